"""faiss indexes over a fold's *training* utterances, one per modality, and neighbour search.

Audio and video use exact L2; text uses inner product on L2-normalised vectors (cosine), as in
the release. Only training utterances whose modality is naturally available are indexed:
validation and test never enter an index.

Index kinds: ``exact`` (flat); ``hnsw``; ``ivf`` (PCA to ``pca_dim``, inverted lists of 4-bit
fast-scan PQ codes, their best ``k_factor``× candidates re-ranked on the PCA vectors, then on the
stored features with exact distances; the number of probed lists is raised until recall@k against
exact search on a sample of the indexed rows reaches ``target_recall``, and the measured recall is
kept in ``ModalityIndex.recall``). By default
(``approximate=None``) an index is exact up to :data:`APPROX_MIN_ROWS` rows (well above MOSI and
IEMOCAP training sets) and ``ivf`` above.

Neighbours under several conditions: :func:`search_candidates` searches each modality once for
every query (the per-modality lists do not depend on the condition) and
:func:`retrieve_neighbours` merges any condition from those shared lists (``candidates=``), with
the same result as searching for that condition alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardymer.conditions import MODALITIES, Condition
from hardymer.data.dataset import MultimodalDataset
from hardymer.hardness.diagnostics import label_agreement_share

log = logging.getLogger(__name__)

DEFAULT_METRICS = {"a": "l2", "t": "cosine", "v": "l2"}
APPROX_MIN_ROWS = 50_000  #: above this many rows an index is approximate by default
KINDS = ("exact", "hnsw", "ivf")
PCA_TRAIN_ROWS = 32_768  #: the ivf kind's PCA is fit on at most about this many rows


def _faiss() -> Any:
    """faiss, imported on first use; its loader's six INFO lines are hidden unless the
    ``faiss.loader`` logger's level was set already (``hardymer -v`` sets it to show them)."""
    loader = logging.getLogger("faiss.loader")
    if loader.level == logging.NOTSET:  # library use, bench workers: quiet
        loader.setLevel(logging.WARNING)
    import faiss

    return faiss


def index_kind(approximate: bool | str | None, rows: int) -> str:
    """The index kind for ``rows`` rows: ``None`` = auto (exact up to APPROX_MIN_ROWS, else ivf),
    ``False`` = exact, ``True`` = hnsw, or a kind name."""
    if approximate is None:
        return "exact" if rows <= APPROX_MIN_ROWS else "ivf"
    if approximate is True:
        return "hnsw"
    if approximate is False:
        return "exact"
    if approximate not in KINDS:
        raise ValueError(f"unknown index kind {approximate!r}; use {', '.join(KINDS)}")
    return str(approximate)


@dataclass
class ModalityIndex:
    """One modality's index; ``ids`` maps index rows to dataset indices.

    ``source`` (ivf only) holds the complete features the index rows came from (``source[source_rows]``),
    used to re-rank candidates with exact distances without a second copy of the vectors.
    """

    modality: str
    metric: str
    index: Any
    ids: np.ndarray
    kind: str = "exact"
    source: np.ndarray | None = None
    source_rows: np.ndarray | None = None  # row of ``source`` of each index row
    refine: int = 4
    recall: float | None = None  # measured recall@k against exact search (approximate kinds)

    @classmethod
    def build(
        cls,
        modality: str,
        x: np.ndarray,
        ids: np.ndarray,
        metric: str = "l2",
        approximate: bool | str | None = False,
        hnsw_m: int = 32,
    ) -> ModalityIndex:
        """An index over the rows ``x`` (dataset indices ``ids``); ``approximate`` as in :func:`index_kind`."""
        kind = index_kind(approximate, len(x))
        if kind == "ivf":
            return cls.build_ivf(modality, x, np.arange(len(x)), metric, ids=ids)
        faiss = _check_metric(modality, metric)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if metric == "cosine":
            x = _l2n(x)
        d = x.shape[1]
        ftype = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, hnsw_m, ftype)
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
        index.add(x)
        return cls(modality, metric, index, np.asarray(ids, dtype=np.int64), kind=kind)

    @classmethod
    def build_ivf(
        cls,
        modality: str,
        features: np.ndarray,
        rows: np.ndarray,
        metric: str = "l2",
        ids: np.ndarray | None = None,
        pca_dim: int = 64,
        target_recall: float = 0.99,
        k: int = 8,
        sample: int = 500,
        seed: int = 0,
        chunk: int = 16_384,
        k_factor: int = 8,
    ) -> ModalityIndex:
        """PCA + IVF index over ``features[rows]`` (added in chunks, never copied whole), with
        ``nprobe`` raised (×√2 steps) until recall@``k`` on ``sample`` indexed rows reaches ``target_recall``.

        The lists hold 4-bit PQ codes (one sub-quantizer per PCA dimension, faiss fast-scan); their
        best ``k_factor`` × k' candidates are re-ranked on the PCA vectors (kept flat, ``pca_dim``
        floats per row), the best k' of those on the stored features (see ``refine``)."""
        faiss = _check_metric(modality, metric)
        rows = np.asarray(rows, dtype=np.int64)
        ids = rows if ids is None else np.asarray(ids, dtype=np.int64)
        n, d = len(rows), features.shape[1]
        rng = np.random.default_rng(seed)
        nlist = int(max(1, min(4 * np.sqrt(n), n // 40)))
        train_rows = rows[np.sort(rng.choice(n, min(n, max(40 * nlist, 10_000)), replace=False))]
        ftype = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        dr = min(pca_dim, d)
        quant = faiss.IndexFlatL2(dr) if metric == "l2" else faiss.IndexFlatIP(dr)
        ivf = faiss.IndexIVFPQFastScan(quant, dr, nlist, dr, 4, ftype)
        ivf.by_residual = False  # one lookup table per query, not per (query, list): far cheaper at high nprobe
        refined = faiss.IndexRefineFlat(ivf)
        refined.k_factor = float(k_factor)
        if dr < d:  # PCA fit on at most PCA_TRAIN_ROWS of the training rows; the lists on all, reduced in chunks
            pca = faiss.PCAMatrix(d, dr)
            pca.train(_prep(features[train_rows[:: max(1, len(train_rows) // PCA_TRAIN_ROWS)]], metric, owned=True))
            refined.train(
                np.concatenate(
                    [
                        pca.apply(_prep(features[train_rows[s : s + chunk]], metric, owned=True))
                        for s in range(0, len(train_rows), chunk)
                    ]
                )
            )
            index = faiss.IndexPreTransform(pca, refined)
        else:
            refined.train(_prep(features[train_rows], metric, owned=True))
            index = refined
        for s in range(0, n, chunk):
            index.add(_prep(features[rows[s : s + chunk]], metric, owned=True))
        out = cls(modality, metric, index, ids, kind="ivf", source=features, source_rows=rows)
        q_rows = rows[rng.choice(n, min(n, sample), replace=False)]
        q = features[q_rows]
        exact = exact_search(features, rows, q, k, metric)[1]
        nprobe = min(8, nlist)
        while True:
            ivf.nprobe = nprobe
            got = out._search_rows(q, k)[1]
            out.recall = recall_at_k(exact, got)
            if out.recall >= target_recall or nprobe >= nlist:
                break
            nprobe = min(max(nprobe + 1, round(nprobe * 2**0.5)), nlist)  # steps of ×√2
        log.info(
            "%s index: pca %d, ivf nlist %d nprobe %d over %d rows, recall@%d %.4f on %d sampled rows",
            modality,
            dr,
            nlist,
            nprobe,
            n,
            k,
            out.recall,
            len(q_rows),
        )
        return out

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def _search_rows(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances (squared L2, or 1 − cosine) and index rows of the ``k`` nearest (-1 pads)."""
        q = _prep(q, self.metric)
        if self.kind != "ivf":
            dist, rows = self.index.search(q, k)
            return (1.0 - dist if self.metric == "cosine" else dist), rows
        assert self.source is not None and self.source_rows is not None, "an ivf index keeps its source features"
        kc = min(self.refine * k, self.ntotal)
        _, cand = self.index.search(q, kc)
        dist = np.empty(cand.shape, np.float32)
        step = 64  # queries per re-rank block: the gathered candidates stay in cache
        for s in range(0, len(q), step):
            qs = q[s : s + step]
            xc = self.source[self.source_rows[np.clip(cand[s : s + step], 0, None)]]  # [b, kc, d]
            if self.metric == "cosine":  # q is unit-norm; divide by the candidates' norms
                dots = np.einsum("qd,qcd->qc", qs, xc)
                norms = np.sqrt(np.einsum("qcd,qcd->qc", xc, xc))
                dist[s : s + step] = 1.0 - dots / np.maximum(norms, 1e-12)
            else:
                xc -= qs[:, None, :]
                dist[s : s + step] = np.einsum("qcd,qcd->qc", xc, xc)
        dist = np.where(cand >= 0, dist, np.inf)
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        rows = np.take_along_axis(cand, order, 1)
        dist = np.take_along_axis(dist, order, 1)
        return dist.astype(np.float32), np.where(np.isfinite(dist), rows, -1)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances (squared L2, or 1 − cosine) and dataset ids of the ``k`` nearest rows (-1 pads)."""
        k_eff = min(k, self.ntotal)
        dist, rows = self._search_rows(q, k_eff)
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

    def query_distances(self, q: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``[Q, C]`` distances between each query ``q[i]`` (``[Q, d]``) and its candidates ``x[i, j]``
        (``[Q, C, d]``): :meth:`pair_distance` of ``q`` broadcast against ``x``, value for value,
        with each query normalised once."""
        if self.metric == "cosine":
            return 1.0 - (_l2n(q)[:, None, :] * _l2n(x)).sum(-1)
        return ((q[:, None, :] - x) ** 2).sum(-1)


def _check_metric(modality: str, metric: str) -> Any:
    if metric not in ("l2", "cosine"):
        raise ValueError(f"unknown retrieval metric {metric!r} for {modality}; use l2 or cosine")
    return _faiss()


def _l2n(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _prep(x: np.ndarray, metric: str, owned: bool = False) -> np.ndarray:
    """``x`` as contiguous float32, L2-normalised for cosine; ``owned``: ``x`` is a temporary copy
    that may be normalised in place (no second copy)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if metric != "cosine":
        return x
    if owned:
        x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
        return x
    return _l2n(x).astype(np.float32, copy=False)


def exact_search(
    features: np.ndarray, rows: np.ndarray, q: np.ndarray, k: int, metric: str = "l2", chunk: int = 16_384
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` over ``features[rows]`` for queries ``q``, scanning the rows in chunks
    (bounded memory); returns distances and positions into ``rows``."""
    faiss = _faiss()
    q = _prep(q, metric)
    best_d = np.full((len(q), 0), np.inf, np.float32)
    best_r = np.zeros((len(q), 0), np.int64)
    ftype = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    for s in range(0, len(rows), chunk):
        xb = _prep(features[rows[s : s + chunk]], metric, owned=True)
        d, r = faiss.knn(q, xb, min(k, len(xb)), metric=ftype)
        if metric == "cosine":
            d = 1.0 - d
        best_d = np.concatenate([best_d, d], 1)
        best_r = np.concatenate([best_r, r + s], 1)
        o = np.argsort(best_d, axis=1, kind="stable")[:, :k]
        best_d, best_r = np.take_along_axis(best_d, o, 1), np.take_along_axis(best_r, o, 1)
    return best_d, best_r


def recall_at_k(exact: np.ndarray, approx: np.ndarray) -> float:
    """Mean share of each row's exact top-k found in its approximate top-k (-1 ignored)."""
    hits = total = 0
    for e, a in zip(exact, approx):
        e = set(e[e >= 0].tolist())
        hits += len(e & set(a.tolist()))
        total += len(e)
    return hits / total if total else 1.0


def build_indexes(
    ds: MultimodalDataset,
    train_idx: np.ndarray,
    metrics: dict[str, str] | None = None,
    approximate: bool | str | None = None,
    pca_dim: int = 64,
) -> dict[str, ModalityIndex]:
    """One index per modality over the training utterances where that modality is available
    (kind per :func:`index_kind`: exact for small sets, ivf above APPROX_MIN_ROWS by default;
    ``pca_dim``: the ivf kind's PCA dimension)."""
    metrics = {**DEFAULT_METRICS, **(metrics or {})}
    out = {}
    for j, m in enumerate(MODALITIES):
        rows = train_idx[ds.available[train_idx, j]]
        if not len(rows):
            continue
        kind = index_kind(approximate, len(rows))
        if kind == "ivf":
            out[m] = ModalityIndex.build_ivf(m, ds.features[m], rows, metrics[m], pca_dim=pca_dim)
        else:
            out[m] = ModalityIndex.build(m, ds.features[m][rows], rows, metrics[m], kind)
    return out


@dataclass
class Candidates:
    """Per-modality search results for one set of queries, shared by every condition.

    ``ids[m]`` ``[Q, depth]``: dataset ids of each query's ``depth`` nearest training rows in
    modality ``m`` (-1 pads); ``scale[m]``: the median nearest-neighbour distance over the queries
    that have ``m``; ``dist`` (fused merge only): ``dist[m]`` ``[Q, C]`` the distance in modality
    ``m`` between each query and every column of the concatenated lists (modalities in
    :data:`MODALITIES` order, ``depth`` columns each; any value where the column's id is -1).
    """

    query_idx: np.ndarray
    depth: int
    ids: dict[str, np.ndarray]
    scale: dict[str, float]
    dist: dict[str, np.ndarray] | None = None

    def columns(self, mods: list[str]) -> np.ndarray:
        """Columns of ``dist`` holding the lists of ``mods`` (in :data:`MODALITIES` order)."""
        have = [m for m in MODALITIES if m in self.ids]
        return np.concatenate([np.arange(self.depth) + have.index(m) * self.depth for m in mods])


def search_candidates(
    ds: MultimodalDataset,
    indexes: dict[str, ModalityIndex],
    query_idx: np.ndarray,
    K: int,
    modalities: list[str] | None = None,
    distances: bool = True,
    chunk: int = 1024,
) -> Candidates:
    """Search each modality's index once for every query (top 2K+1) and, with ``distances``, the
    distance in every modality to every candidate (what the fused merge needs); see
    :class:`Candidates`. ``modalities``: those to search (default: every indexed modality)."""
    query_idx = np.asarray(query_idx, dtype=np.int64)
    Q = len(query_idx)
    depth = 2 * K + 1
    mods = [m for m in MODALITIES if m in indexes and (modalities is None or m in modalities)]
    cand_ids: dict[str, np.ndarray] = {}
    scale = {}
    for m in mods:
        ids_m = np.empty((Q, depth), np.int64)
        first = np.empty(Q, np.float64)
        for s in range(0, Q, chunk):
            qi = query_idx[s : s + chunk]
            dist, ids = indexes[m].search(ds.features[m][qi], depth)
            ids_m[s : s + chunk] = ids
            first[s : s + chunk] = np.where(ids[:, 0] == qi, dist[:, 1], dist[:, 0])
        cand_ids[m] = ids_m
        ok = ds.available[query_idx, MODALITIES.index(m)] & np.isfinite(first)
        scale[m] = float(np.median(first[ok])) if ok.any() and np.median(first[ok]) > 0 else 1.0
    out = Candidates(query_idx, depth, cand_ids, scale)
    if distances and mods:
        out.dist = {m: np.empty((Q, depth * len(mods)), np.float32) for m in mods}
        step = max(1, min(chunk, 256))
        for s in range(0, Q, step):
            qi = query_idx[s : s + step]
            safe = np.clip(np.concatenate([cand_ids[m][s : s + step] for m in mods], 1), 0, None)
            for m in mods:
                out.dist[m][s : s + step] = indexes[m].query_distances(ds.features[m][qi], ds.features[m][safe])
    return out


def retrieve_neighbours(
    ds: MultimodalDataset,
    indexes: dict[str, ModalityIndex],
    query_idx: np.ndarray,
    condition: str,
    K: int,
    merge: str = "fused",
    chunk: int = 1024,
    candidates: Candidates | None = None,
) -> np.ndarray:
    """Up to ``K`` training neighbours per query utterance under ``condition`` (``[Q, K]``, -1 pads).

    Each modality available to the query (by condition and naturally) is searched for its top
    K+1+K candidates; the query itself is dropped. ``merge="concat"`` concatenates the lists in
    modality order and de-duplicates (the release); ``"fused"`` ranks the union of candidates by
    the mean, over the query's available modalities, of distances scaled by each modality's
    median nearest-neighbour distance (a missing candidate modality counts as the scale).
    Queries are searched and merged in chunks of ``chunk`` (bounded memory). ``candidates`` (from
    :func:`search_candidates` for the same queries and ``K``) replaces the searches: the result
    is the same, and several conditions share one search per modality.
    """
    if merge not in ("fused", "concat"):
        raise ValueError(f"unknown merge {merge!r}; use fused or concat")
    c = Condition(condition)
    query_idx = np.asarray(query_idx, dtype=np.int64)
    Q = len(query_idx)
    mods = [m for m in MODALITIES if m in c and m in indexes]
    out = np.full((Q, K), -1, dtype=np.int64)
    if not mods:
        return out
    if candidates is None:
        candidates = search_candidates(ds, indexes, query_idx, K, mods, distances=False, chunk=chunk)
    elif (
        candidates.depth != 2 * K + 1
        or not np.array_equal(candidates.query_idx, query_idx)
        or any(m not in candidates.ids for m in mods)
    ):
        raise ValueError(
            f"candidates were searched for other queries, another K (depth {candidates.depth}, "
            f"need {2 * K + 1}) or without a modality of {condition!r}"
        )
    usable = {m: ds.available[query_idx, MODALITIES.index(m)] for m in mods}
    cand_dist = candidates.dist if merge == "fused" else None
    cols = candidates.columns(mods) if cand_dist is not None else None
    for s in range(0, Q, chunk):
        sl = slice(s, s + chunk)
        dist = None if cand_dist is None or cols is None else {m: cand_dist[m][sl][:, cols] for m in mods}
        out[sl] = _merge_chunk(
            ds,
            indexes,
            query_idx[sl],
            {m: candidates.ids[m][sl] for m in mods},
            {m: usable[m][sl] for m in mods},
            candidates.scale,
            K,
            merge,
            dist,
        )
    return out


def _merge_chunk(
    ds: MultimodalDataset,
    indexes: dict[str, ModalityIndex],
    qidx: np.ndarray,
    cand: dict[str, np.ndarray],
    usable: dict[str, np.ndarray],
    scale: dict[str, float],
    K: int,
    merge: str,
    dist: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The merge of :func:`retrieve_neighbours` for one chunk of queries, vectorised; ``dist``:
    the candidates' distances per modality, precomputed (else computed here)."""
    mods = list(cand)
    Q = len(qidx)
    # candidate lists in modality order; an unusable modality contributes nothing
    ids = np.concatenate([np.where(usable[m][:, None], cand[m], -1) for m in mods], 1)  # [Q, C]
    keep = (ids >= 0) & (ids != qidx[:, None])
    # de-duplicate, keeping each id's first occurrence in list order
    masked = np.where(keep, ids, -1)
    o = np.argsort(masked, axis=1, kind="stable")
    sid = np.take_along_axis(masked, o, 1)
    dup_sorted = np.zeros_like(keep)
    dup_sorted[:, 1:] = sid[:, 1:] == sid[:, :-1]
    dup = np.zeros_like(keep)
    np.put_along_axis(dup, o, dup_sorted, 1)
    keep &= ~dup
    out = np.full((Q, K), -1, dtype=np.int64)
    if merge == "concat":
        pos = np.argsort(~keep, axis=1, kind="stable")[:, :K]
    else:
        total = np.zeros(ids.shape)
        n_mod = np.zeros(Q)
        safe = np.where(keep, ids, 0)
        for jm, m in enumerate(MODALITIES):
            if m not in cand:
                continue
            u = usable[m]
            have = ds.available[safe, jm]
            raw = (
                dist[m] if dist is not None else indexes[m].query_distances(ds.features[m][qidx], ds.features[m][safe])
            )
            d = raw / scale[m]
            total += np.where(u[:, None], np.where(have, d, 1.0), 0.0)
            n_mod += u
        total = total / np.maximum(n_mod, 1)[:, None]
        total[~keep] = np.inf
        pos = np.argsort(total, axis=1, kind="stable")[:, :K]
    chosen = np.take_along_axis(ids, pos, 1)
    ok = np.take_along_axis(keep, pos, 1)
    out[:, : chosen.shape[1]] = np.where(ok, chosen, -1)
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


def label_agreement(
    ds: MultimodalDataset, anchors: np.ndarray, neighbours: np.ndarray, k: np.ndarray | None = None
) -> float:
    """Share of (used) neighbours whose label matches the anchor's (same class / same sign)."""
    return label_agreement_share(ds.labels, ds.task == "classification", anchors, neighbours, k)
