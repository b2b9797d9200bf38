"""Indirect hardness: how little the available modalities tell about the missing ones.

Default estimator (``critic``): a pointwise mutual-information critic per modality pair,
trained with InfoNCE on the fold's full-modality *training* utterances. For a pair (m, n) the
critic scores f(x_m, x_n) = <g_m(x_m), g_n(x_n)> / τ; the pointwise MI of utterance i is

    pmi_i = f(x_i^m, x_i^n) − log mean_j exp f(x_i^m, x_j^n)

with j over the training set. Under condition c (available A, missing M) the indirect hardness is
IH_i = −mean_{m∈A, n∈M} pmi_i(m, n): **low MI between what is present and what is missing =
hard**. With nothing missing (``atv``) IH = 0.

``entropy`` reproduces the authors' proxy for comparison only: H(z_m) + H(z_n) − H([z_m, z_n])
from softmax-over-features "entropies" of the frozen teacher's encodings, with the release's sign
(high "MI" = hard). It is mostly a sum of unimodal entropies (see docs/method-notes.md).
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hardymer.conditions import MODALITIES, canonical_condition

log = logging.getLogger(__name__)


class PairCritic(nn.Module):
    """Separable critic for one modality pair."""

    def __init__(self, d_m: int, d_n: int, hidden: int = 128, out: int = 64, tau: float = 0.2) -> None:
        super().__init__()
        self.g_m = nn.Sequential(nn.Linear(d_m, hidden), nn.ReLU(), nn.Linear(hidden, out))
        self.g_n = nn.Sequential(nn.Linear(d_n, hidden), nn.ReLU(), nn.Linear(hidden, out))
        self.tau = tau

    def embed(self, xm: torch.Tensor, xn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.normalize(self.g_m(xm), dim=-1), F.normalize(self.g_n(xn), dim=-1)

    def scores(self, xm: torch.Tensor, xn: torch.Tensor) -> torch.Tensor:
        """All-pairs critic matrix ``[N, N]`` (row i: x_i^m against every x_j^n)."""
        a, b = self.embed(xm, xn)
        return a @ b.T / self.tau


def train_pair_critics(features: dict[str, np.ndarray], epochs: int = 60, batch_size: int = 256,
                       lr: float = 1e-3, seed: int = 0) -> dict[tuple[str, str], PairCritic]:
    """Train one InfoNCE critic per unordered modality pair on complete training rows."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    critics = {}
    n = next(iter(features.values())).shape[0]
    for m, k in itertools.combinations(MODALITIES, 2):
        if m not in features or k not in features:  # a modality the dataset lacks: no critic
            continue
        xm, xk = torch.as_tensor(features[m]), torch.as_tensor(features[k])
        critic = PairCritic(xm.shape[1], xk.shape[1])
        opt = torch.optim.Adam(critic.parameters(), lr=lr, weight_decay=1e-4)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=g)
            for s in range(0, n, batch_size):
                idx = perm[s : s + batch_size]
                if len(idx) < 2:
                    continue
                sc = critic.scores(xm[idx], xk[idx])
                target = torch.arange(len(idx))
                loss = 0.5 * (F.cross_entropy(sc, target) + F.cross_entropy(sc.T, target))
                opt.zero_grad()
                loss.backward()
                opt.step()
        critic.eval()
        critics[(m, k)] = critic
    return critics


@torch.no_grad()
def pointwise_mi(critic: PairCritic, xm: np.ndarray, xn: np.ndarray, ref_m: np.ndarray | None = None,
                 ref_n: np.ndarray | None = None, chunk: int = 2048) -> np.ndarray:
    """pmi_i = f(x_i^m, x_i^n) − log mean_j exp f(x_i^m, x_j^n), j over the reference set (both
    directions averaged). The reference set defaults to the queried rows themselves."""
    a, b = critic.embed(torch.as_tensor(xm), torch.as_tensor(xn))
    ra, rb = (a, b) if ref_m is None else critic.embed(torch.as_tensor(ref_m), torch.as_tensor(ref_n))
    pos = (a * b).sum(-1) / critic.tau
    out = torch.empty(len(a))
    nref = torch.log(torch.tensor(float(len(ra))))
    for s in range(0, len(a), chunk):
        sl = slice(s, s + chunk)
        lse_n = torch.logsumexp(a[sl] @ rb.T / critic.tau, dim=1) - nref
        lse_m = torch.logsumexp(b[sl] @ ra.T / critic.tau, dim=1) - nref
        out[sl] = pos[sl] - 0.5 * (lse_n + lse_m)
    return out.numpy()


def critic_indirect_hardness(critics: dict[tuple[str, str], PairCritic], features: dict[str, np.ndarray],
                             available: np.ndarray, condition: str) -> np.ndarray:
    """IH per row of ``features`` under ``condition`` (−mean PMI between present and missing).

    ``available`` [N, 3] is natural availability: pairs whose missing side has no stored
    features are skipped for that row; a row with no usable pair gets IH = 0.
    """
    c = canonical_condition(condition)
    present = [m for m in MODALITIES if m in c]
    missing = [m for m in MODALITIES if m not in c]
    n = available.shape[0]
    total = np.zeros(n)
    count = np.zeros(n)
    for m in present:
        for k in missing:
            key = (m, k) if (m, k) in critics else (k, m)
            if key not in critics:  # no critic for a modality without stored features
                continue
            crit = critics[key]
            xa, xb = (features[key[0]], features[key[1]])
            pmi = pointwise_mi(crit, xa, xb)
            ok = available[:, MODALITIES.index(m)] & available[:, MODALITIES.index(k)]
            total += np.where(ok, -pmi, 0.0)
            count += ok
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _softmax_entropy(z: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(z, dim=-1)
    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)


def entropy_indirect_hardness(enc: dict[str, np.ndarray], condition: str) -> np.ndarray:
    """The release's proxy: mean over (present m, missing n) of H(z_m) + H(z_n) − H([z_m, z_n]),
    from the frozen teacher's full-modality encodings ``enc`` (high value = hard, release sign)."""
    c = canonical_condition(condition)
    present = [m for m in MODALITIES if m in c]
    missing = [m for m in MODALITIES if m not in c]
    n = next(iter(enc.values())).shape[0]
    if not missing:
        return np.zeros(n)
    vals = []
    for m in present:
        for k in missing:
            if m not in enc or k not in enc:  # a modality without stored features
                continue
            zm, zk = torch.as_tensor(enc[m]), torch.as_tensor(enc[k])
            vals.append((_softmax_entropy(zm) + _softmax_entropy(zk) - _softmax_entropy(torch.cat([zm, zk], -1))).numpy())
    return np.mean(vals, axis=0) if vals else np.zeros(n)
