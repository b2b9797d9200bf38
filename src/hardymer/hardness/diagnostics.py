"""Diagnostics of the hardness estimate and of the neighbours it allocates (pure functions).

They answer: does h find the genuinely hard utterances (AUC against a dataset's true ``hard``
flag, where ``MultimodalDataset.utt_meta`` has one, e.g. the synthetic ``scenario=private``
testbed)? Are the neighbours actually used label-consistent for hard and for easy anchors? How
many come from the anchor's own group (dialogue / video)? Does DH merely rank the norm of the
missing features, and do DH and IH agree? Undefined values (one class only, constant input, no
neighbour used) are ``None`` so that they serialise as JSON ``null``.
"""

from __future__ import annotations

import numpy as np

from hardymer.conditions import MODALITIES, Condition
from hardymer.data.dataset import MultimodalDataset
from hardymer.hardness.combine import average_ranks

#: the keys ``hardness_diagnostics`` returns (in this order)
DIAGNOSTIC_KEYS = (
    "hard_flag",
    "auc_h_vs_hard",
    "auc_dh_vs_hard",
    "auc_ih_vs_hard",
    "anchor_split",
    "n_hard_anchors",
    "n_easy_anchors",
    "k_mean_hard",
    "k_mean_easy",
    "label_agreement_used_hard",
    "label_agreement_used_easy",
    "own_group_share_used",
    "spearman_dh_missing_sq_norm",
    "spearman_dh_ih",
)


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def auc_or_none(flag: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of ``score`` for the boolean ``flag`` (Mann–Whitney U from average ranks, equal to
    sklearn's ``roc_auc_score``); ``None`` when only one class occurs."""
    flag = np.asarray(flag, dtype=bool)
    if flag.all() or not flag.any():
        return None
    ranks = average_ranks(np.asarray(score, dtype=np.float64))
    n_pos, n_neg = int(flag.sum()), int((~flag).sum())
    return float((ranks[flag].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman_or_none(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rho (Pearson r of average ranks, as scipy's ``spearmanr``); ``None`` for fewer
    than 3 values or a constant input."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = float(np.clip(np.dot(ra, rb) / np.sqrt(np.dot(ra, ra) * np.dot(rb, rb)), -1.0, 1.0))
    return _finite_or_none(rho)


def used_mask(neighbours: np.ndarray, k: np.ndarray | None = None) -> np.ndarray:
    """``[Q, K]`` bool: the neighbour slots actually used (valid and among the first ``k_i``)."""
    neighbours = np.asarray(neighbours)
    mask = neighbours >= 0
    if k is not None:
        mask &= np.arange(neighbours.shape[1])[None, :] < np.asarray(k)[:, None]
    return mask


def label_agreement_share(
    labels: np.ndarray, classification: bool, anchors: np.ndarray, neighbours: np.ndarray, k: np.ndarray | None = None
) -> float:
    """Share of (used) neighbours whose label matches the anchor's: the same class, or for
    regression the same sign (``y >= 0``); NaN when no neighbour is used."""
    mask = used_mask(neighbours, k)
    if not mask.any():
        return float("nan")
    ya = labels[np.asarray(anchors)][:, None]
    yn = labels[np.clip(neighbours, 0, None)]
    same = (ya == yn) if classification else ((ya >= 0) == (yn >= 0))
    return float(same[mask].mean())


def own_group_share(
    groups: np.ndarray, anchors: np.ndarray, neighbours: np.ndarray, k: np.ndarray | None = None
) -> float | None:
    """Share of the (used) neighbours that belong to the anchor's own group; ``None`` if none is used."""
    mask = used_mask(neighbours, k)
    if not mask.any():
        return None
    same = groups[np.asarray(anchors)][:, None] == groups[np.clip(neighbours, 0, None)]
    return float(same[mask].mean())


def missing_sq_norm(ds: MultimodalDataset, idx: np.ndarray, condition: str) -> np.ndarray:
    """‖x_missing‖² per utterance: summed squared norms of the stored features of the modalities
    that ``condition`` removes (rows of naturally unavailable modalities are 0 and add nothing)."""
    c = Condition(condition)
    idx = np.asarray(idx)
    out = np.zeros(len(idx))
    for m in MODALITIES:
        if m not in c:
            out += (ds.features[m][idx].astype(np.float64) ** 2).sum(1)
    return out


def anchor_split(h: np.ndarray, hard: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(hard mask, easy mask, how): the true flag where given, else the top vs the bottom third
    of h (ties broken by position)."""
    n = len(h)
    if hard is not None:
        hard = np.asarray(hard, dtype=bool)
        return hard, ~hard, "true_hard_flag"
    order = np.argsort(np.asarray(h), kind="stable")
    third = n // 3
    top, bottom = np.zeros(n, bool), np.zeros(n, bool)
    if third:
        top[order[n - third :]] = True
        bottom[order[:third]] = True
    return top, bottom, "h_top_third_vs_bottom_third"


def hardness_diagnostics(
    ds: MultimodalDataset,
    condition: str,
    train_idx: np.ndarray,
    dh: np.ndarray,
    ih: np.ndarray,
    h: np.ndarray,
    neighbours: np.ndarray,
    k: np.ndarray,
) -> dict:
    """All diagnostics (``DIAGNOSTIC_KEYS``) for one condition.

    Args:
        ds: the dataset the run trains on (standardised features: the ones DH reconstructs).
        train_idx: dataset indices of the anchors (the training utterances), ``[Q]``.
        dh, ih, h: direct, indirect and final hardness per anchor, ``[Q]``.
        neighbours: retrieved dataset indices ``[Q, K]`` (-1 pads); k: neighbours used per anchor.
    """
    train_idx = np.asarray(train_idx)
    flag = ds.utt_meta.get("hard")
    hard_true = np.asarray(flag, dtype=bool)[train_idx] if flag is not None else None
    out: dict = {"hard_flag": hard_true is not None}
    for name, score in (("h", h), ("dh", dh), ("ih", ih)):
        out[f"auc_{name}_vs_hard"] = auc_or_none(hard_true, score) if hard_true is not None else None
    is_hard, is_easy, how = anchor_split(h, hard_true)
    out.update(anchor_split=how, n_hard_anchors=int(is_hard.sum()), n_easy_anchors=int(is_easy.sum()))
    k = np.asarray(k)
    for name, sel in (("hard", is_hard), ("easy", is_easy)):
        out[f"k_mean_{name}"] = float(k[sel].mean()) if sel.any() else None
    classification = ds.task == "classification"
    for name, sel in (("hard", is_hard), ("easy", is_easy)):
        share = (
            label_agreement_share(ds.labels, classification, train_idx[sel], neighbours[sel], k[sel])
            if sel.any()
            else float("nan")
        )
        out[f"label_agreement_used_{name}"] = _finite_or_none(share)
    out["own_group_share_used"] = own_group_share(ds.groups, train_idx, neighbours, k)
    out["spearman_dh_missing_sq_norm"] = spearman_or_none(dh, missing_sq_norm(ds, train_idx, condition))
    out["spearman_dh_ih"] = spearman_or_none(dh, ih)
    return out
