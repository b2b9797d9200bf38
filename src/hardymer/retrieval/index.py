"""faiss indexes over a fold's *training* utterances, one per modality, and neighbour search.

Audio and video use exact L2; text uses inner product on L2-normalised vectors (cosine), as in
the release. ``approximate=True`` swaps in HNSW for large data. Only training utterances whose
modality is naturally available are indexed: validation and test never enter an index.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from hardymer.conditions import MODALITIES, canonical_condition
from hardymer.data.dataset import MultimodalDataset
from hardymer.hardness.diagnostics import label_agreement_share

DEFAULT_METRICS = {"a": "l2", "t": "cosine", "v": "l2"}


@dataclass
class ModalityIndex:
    """One modality's index; ``ids`` maps index rows to dataset indices."""

    modality: str
    metric: str
    index: faiss.Index
    ids: np.ndarray

    @classmethod
    def build(cls, modality: str, x: np.ndarray, ids: np.ndarray, metric: str = "l2",
              approximate: bool = False, hnsw_m: int = 32) -> "ModalityIndex":
        if metric not in ("l2", "cosine"):
            raise ValueError(f"unknown retrieval metric {metric!r} for {modality}; use l2 or cosine")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if metric == "cosine":
            x = _l2n(x)
        d = x.shape[1]
        ftype = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if approximate:
            index = faiss.IndexHNSWFlat(d, hnsw_m, ftype)
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
        index.add(x)
        return cls(modality, metric, index, np.asarray(ids, dtype=np.int64))

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances (squared L2, or 1 − cosine) and dataset ids of the ``k`` nearest rows (-1 pads)."""
        q = np.ascontiguousarray(q, dtype=np.float32)
        if self.metric == "cosine":
            q = _l2n(q)
        k_eff = min(k, self.index.ntotal)
        dist, rows = self.index.search(q, k_eff)
        if self.metric == "cosine":
            dist = 1.0 - dist
        ids = np.where(rows >= 0, self.ids[np.clip(rows, 0, None)], -1)
        if k_eff < k:
            pad = k - k_eff
            dist = np.pad(dist, ((0, 0), (0, pad)), constant_values=np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        return dist, ids

    def pair_distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row-wise distance between ``a[i]`` and ``b[i]`` in this index's metric."""
        if self.metric == "cosine":
            return 1.0 - (_l2n(a) * _l2n(b)).sum(-1)
        return ((a - b) ** 2).sum(-1)


def _l2n(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def build_indexes(ds: MultimodalDataset, train_idx: np.ndarray, metrics: dict[str, str] | None = None,
                  approximate: bool = False) -> dict[str, ModalityIndex]:
    """One index per modality over the training utterances where that modality is available."""
    metrics = {**DEFAULT_METRICS, **(metrics or {})}
    out = {}
    for j, m in enumerate(MODALITIES):
        rows = train_idx[ds.available[train_idx, j]]
        if len(rows):
            out[m] = ModalityIndex.build(m, ds.features[m][rows], rows, metrics[m], approximate)
    return out


def retrieve_neighbours(ds: MultimodalDataset, indexes: dict[str, ModalityIndex], query_idx: np.ndarray,
                        condition: str, K: int, merge: str = "fused") -> np.ndarray:
    """Up to ``K`` training neighbours per query utterance under ``condition`` (``[Q, K]``, -1 pads).

    Each modality available to the query (by condition and naturally) is searched for its top
    K+1+K candidates; the query itself is dropped. ``merge="concat"`` concatenates the lists in
    modality order and de-duplicates (the release); ``"fused"`` ranks the union of candidates by
    the mean, over the query's available modalities, of distances scaled by each modality's
    median nearest-neighbour distance (a missing candidate modality counts as the scale).
    """
    if merge not in ("fused", "concat"):
        raise ValueError(f"unknown merge {merge!r}; use fused or concat")
    c = canonical_condition(condition)
    query_idx = np.asarray(query_idx, dtype=np.int64)
    Q = len(query_idx)
    depth = 2 * K + 1
    cand: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    usable = {}
    for j, m in enumerate(MODALITIES):
        if m not in c or m not in indexes:
            continue
        usable[m] = ds.available[query_idx, j]
        cand[m] = indexes[m].search(ds.features[m][query_idx], depth)
    out = np.full((Q, K), -1, dtype=np.int64)
    if not cand:
        return out
    scale = {}
    for m, (dist, ids) in cand.items():
        first = np.where(ids[:, 0] == query_idx, dist[:, 1], dist[:, 0])
        ok = usable[m] & np.isfinite(first)
        scale[m] = float(np.median(first[ok])) if ok.any() and np.median(first[ok]) > 0 else 1.0
    mods = list(cand)
    for qi in range(Q):
        i = int(query_idx[qi])
        lists = [cand[m][1][qi] for m in mods if usable[m][qi]]
        if not lists:
            continue
        seen: list[int] = []
        for lst in lists:
            for j in lst:
                j = int(j)
                if j >= 0 and j != i and j not in seen:
                    seen.append(j)
        if merge == "concat":
            chosen = seen[:K]
        else:
            ids_arr = np.array(seen, dtype=np.int64)
            total = np.zeros(len(ids_arr))
            n_mod = 0
            for jm, m in enumerate(MODALITIES):
                if m not in cand or not usable[m][qi]:
                    continue
                have = ds.available[ids_arr, jm]
                d = indexes[m].pair_distance(np.repeat(ds.features[m][i : i + 1], len(ids_arr), 0),
                                             ds.features[m][ids_arr]) / scale[m]
                total += np.where(have, d, 1.0)
                n_mod += 1
            order = np.argsort(total / max(n_mod, 1), kind="stable")
            chosen = ids_arr[order][:K].tolist()
        out[qi, : len(chosen)] = chosen
    return out


def build_views(anchors: np.ndarray, neighbours: np.ndarray, k: np.ndarray, K: int) -> np.ndarray:
    """Views ``[Q, K+1]``: [i repeated (K − k_i) times, i, n_1 … n_{k_i}] (missing neighbours -> i)."""
    Q = len(anchors)
    views = np.repeat(np.asarray(anchors, dtype=np.int64)[:, None], K + 1, axis=1)
    for q in range(Q):
        kq = int(k[q])
        nb = neighbours[q, :kq]
        nb = np.where(nb >= 0, nb, anchors[q])
        views[q, K + 1 - kq :] = nb
    return views


def label_agreement(ds: MultimodalDataset, anchors: np.ndarray, neighbours: np.ndarray,
                    k: np.ndarray | None = None) -> float:
    """Share of (used) neighbours whose label matches the anchor's (same class / same sign)."""
    return label_agreement_share(ds.labels, ds.task == "classification", anchors, neighbours, k)
