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
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hardymer.conditions import MODALITIES, Condition
from hardymer.optim import Adam

log = logging.getLogger(__name__)


def _linear(d_in: int, d_out: int, generator: torch.Generator) -> nn.Linear:
    """``nn.Linear(d_in, d_out)`` with torch's default initialisation drawn from ``generator``
    (the same values as ``nn.Linear`` drawing from a global generator in the same state)."""
    layer = nn.utils.skip_init(nn.Linear, d_in, d_out)  # no draws from torch's global generator
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(d_in) if d_in > 0 else 0.0
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


class PairCritic(nn.Module):
    """Separable critic for one modality pair; its initial weights are drawn from ``generator``
    (default: a generator seeded with 0), never from torch's global generator."""

    def __init__(
        self,
        d_m: int,
        d_n: int,
        hidden: int = 128,
        out: int = 64,
        tau: float = 0.2,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0) if generator is None else generator
        self.g_m = nn.Sequential(_linear(d_m, hidden, g), nn.ReLU(), _linear(hidden, out, g))
        self.g_n = nn.Sequential(_linear(d_n, hidden, g), nn.ReLU(), _linear(hidden, out, g))
        self.tau = tau

    def embed(self, xm: torch.Tensor, xn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.normalize(self.g_m(xm), dim=-1), F.normalize(self.g_n(xn), dim=-1)

    def scores(self, xm: torch.Tensor, xn: torch.Tensor) -> torch.Tensor:
        """All-pairs critic matrix ``[N, N]`` (row i: x_i^m against every x_j^n)."""
        a, b = self.embed(xm, xn)
        return a @ b.T / self.tau


CRITIC_MAX_ROWS = 16_384  #: critics train on at most this many rows (a seeded sample above it)
PMI_REF_SIZE = 8_192  #: PMI's reference set: all rows up to this size, a seeded sample above it


def train_pair_critics(
    features: dict[str, np.ndarray],
    epochs: int = 60,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    max_rows: int | None = CRITIC_MAX_ROWS,
) -> dict[tuple[str, str], PairCritic]:
    """Train one InfoNCE critic per unordered modality pair on complete training rows (on a
    seeded sample of ``max_rows`` of them when there are more; ``None``: all).

    Every draw comes from generators seeded with ``seed``: the critics' initial weights (one
    stream, critic after critic) and the batch order (another); torch's global generator is
    neither read nor moved."""
    n = next(iter(features.values())).shape[0]
    if max_rows is not None and n > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
        features = {m: x[keep] for m, x in features.items()}
        log.info("critics trained on a sample of %d of %d rows", max_rows, n)
        n = max_rows
    g = torch.Generator().manual_seed(seed)  # batch order
    init = torch.Generator().manual_seed(seed)  # initial weights
    critics = {}
    for m, k in itertools.combinations(MODALITIES, 2):
        if m not in features or k not in features:  # a modality the dataset lacks: no critic
            continue
        xm, xk = torch.as_tensor(features[m]), torch.as_tensor(features[k])
        critic = PairCritic(xm.shape[1], xk.shape[1], generator=init)
        opt = Adam(critic.parameters(), lr=lr, weight_decay=1e-4)
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
def _embed_chunked(critic: PairCritic, xm: np.ndarray, xn: np.ndarray, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    if len(xm) <= chunk:
        return critic.embed(torch.as_tensor(xm), torch.as_tensor(xn))
    parts = [
        critic.embed(torch.as_tensor(xm[s : s + chunk]), torch.as_tensor(xn[s : s + chunk]))
        for s in range(0, len(xm), chunk)
    ]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@torch.no_grad()
def pointwise_mi(
    critic: PairCritic,
    xm: np.ndarray,
    xn: np.ndarray,
    ref_m: np.ndarray | None = None,
    ref_n: np.ndarray | None = None,
    chunk: int = 256,
) -> np.ndarray:
    """pmi_i = f(x_i^m, x_i^n) − log mean_j exp f(x_i^m, x_j^n), j over the reference set (both
    directions averaged). The reference set defaults to the queried rows themselves. Queries are
    processed in chunks: memory is O(chunk × reference size)."""
    if (ref_m is None) != (ref_n is None):
        raise ValueError("pointwise_mi: give both ref_m and ref_n, or neither")
    a, b = _embed_chunked(critic, xm, xn, 65_536)
    ra, rb = (a, b) if ref_m is None or ref_n is None else _embed_chunked(critic, ref_m, ref_n, 65_536)
    pos = (a * b).sum(-1) / critic.tau
    out = torch.empty(len(a))
    nref = torch.log(torch.tensor(float(len(ra))))
    for s in range(0, len(a), chunk):
        sl = slice(s, s + chunk)
        lse_n = torch.logsumexp(a[sl] @ rb.T / critic.tau, dim=1) - nref
        lse_m = torch.logsumexp(b[sl] @ ra.T / critic.tau, dim=1) - nref
        out[sl] = pos[sl] - 0.5 * (lse_n + lse_m)
    return out.numpy()


def reference_rows(n: int, ref_size: int | None = PMI_REF_SIZE, seed: int = 0) -> np.ndarray | None:
    """Rows of PMI's reference set: ``None`` (all rows) up to ``ref_size``, else a seeded sample."""
    if ref_size is None or n <= ref_size:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, ref_size, replace=False))


def _pmi(critic: PairCritic, xa: np.ndarray, xb: np.ndarray, ref: np.ndarray | None) -> np.ndarray:
    return pointwise_mi(critic, xa, xb) if ref is None else pointwise_mi(critic, xa, xb, xa[ref], xb[ref])


def pair_pmi(
    critics: dict[tuple[str, str], PairCritic],
    features: dict[str, np.ndarray],
    ref_size: int | None = PMI_REF_SIZE,
    seed: int = 0,
) -> dict[tuple[str, str], np.ndarray]:
    """PMI of every row for every critic pair, against the reference set of :func:`reference_rows`
    (the same rows for every pair); it does not depend on the condition, so compute it once."""
    ref = reference_rows(next(iter(features.values())).shape[0], ref_size, seed)
    return {(m, k): _pmi(crit, features[m], features[k], ref) for (m, k), crit in critics.items()}


def critic_indirect_hardness(
    critics: dict[tuple[str, str], PairCritic],
    features: dict[str, np.ndarray],
    available: np.ndarray,
    condition: str,
    ref_size: int | None = PMI_REF_SIZE,
    seed: int = 0,
    pmi: dict[tuple[str, str], np.ndarray] | None = None,
) -> np.ndarray:
    """IH per row of ``features`` under ``condition`` (−mean PMI between present and missing).

    ``available`` [N, 3] is natural availability: pairs whose missing side has no stored
    features are skipped for that row; a row with no usable pair gets IH = 0. PMI is taken
    against all rows up to ``ref_size`` rows and against a seeded sample of ``ref_size`` rows
    above; ``pmi`` (from :func:`pair_pmi`) reuses PMI computed for another condition.
    """
    c = Condition(condition)
    present = [m for m in MODALITIES if m in c]
    missing = [m for m in MODALITIES if m not in c]
    n = available.shape[0]
    ref = reference_rows(n, ref_size, seed)
    total = np.zeros(n)
    count = np.zeros(n)
    for m in present:
        for k in missing:
            key = (m, k) if (m, k) in critics else (k, m)
            if key not in critics:  # no critic for a modality without stored features
                continue
            p = (
                pmi[key]
                if pmi is not None and key in pmi
                else _pmi(critics[key], features[key[0]], features[key[1]], ref)
            )
            ok = available[:, MODALITIES.index(m)] & available[:, MODALITIES.index(k)]
            total += np.where(ok, -p, 0.0)
            count += ok
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _softmax_entropy(z: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(z, dim=-1)
    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)


def entropy_indirect_hardness(enc: dict[str, np.ndarray], condition: str) -> np.ndarray:
    """The release's proxy: mean over (present m, missing n) of H(z_m) + H(z_n) − H([z_m, z_n]),
    from the frozen teacher's full-modality encodings ``enc`` (high value = hard, release sign)."""
    c = Condition(condition)
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
            vals.append(
                (_softmax_entropy(zm) + _softmax_entropy(zk) - _softmax_entropy(torch.cat([zm, zk], -1))).numpy()
            )
    return np.mean(vals, axis=0) if vals else np.zeros(n)
