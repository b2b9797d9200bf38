import numpy as np
import pytest

from hardymer.conditions import MODALITIES
from hardymer.data import create_dataset
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.retrieval.index import (
    DEFAULT_METRICS,
    ModalityIndex,
    build_indexes,
    build_views,
    label_agreement,
    retrieve_neighbours,
)

DIMS = {"a": 6, "t": 5, "v": 4}


def _bruteforce(x, q, metric):
    x = x.astype(np.float64)
    q = q.astype(np.float64)
    if metric == "cosine":
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        return 1.0 - qn @ xn.T
    return ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)


def _dataset(seed=0, n_groups=20, per_group=3, task="classification", v_pairs=False, copy_eval=True, missing=()):
    """Groups of ``per_group`` utterances; the first 14 groups train, 3 val, 3 test.

    ``copy_eval``: val/test rows are near-copies of training rows (they would be the nearest
    neighbours if they were ever indexed). ``v_pairs``: training rows come in pairs whose video
    features are near-identical and large (video would dominate the neighbours if it were used).
    ``missing``: (row, modality index) pairs that are naturally missing.
    """
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    gid = np.repeat(np.arange(n_groups), per_group)
    feats = {m: rng.normal(size=(n, d)).astype(np.float32) for m, d in DIMS.items()}
    train = np.flatnonzero(gid < 14)
    val = np.flatnonzero((gid >= 14) & (gid < 17))
    test = np.flatnonzero(gid >= 17)
    if copy_eval:
        src = rng.choice(train, len(val) + len(test), replace=False)
        for j, i in zip(np.concatenate([val, test]), src):
            for m in MODALITIES:
                feats[m][j] = feats[m][i] + 1e-3 * rng.normal(size=DIMS[m])
    if v_pairs:
        perm = rng.permutation(train)
        for p in range(0, len(perm) - 1, 2):
            pattern = rng.normal(size=DIMS["v"]) * 20
            feats["v"][perm[p]] = pattern
            feats["v"][perm[p + 1]] = pattern + 1e-3 * rng.normal(size=DIMS["v"])
    avail = np.ones((n, 3), dtype=bool)
    for r, j in missing:
        avail[r, j] = False
    if task == "classification":
        labels = rng.integers(0, 3, n).astype(np.int64)
        extra = {"class_names": ["x", "y", "z"]}
    else:
        labels = np.round(rng.uniform(-3, 3, n), 1).astype(np.float32)
        extra = {"label_range": (-3.0, 3.0)}
    return MultimodalDataset(
        name="toy",
        task=task,
        features=feats,
        available=avail,
        labels=labels,
        groups=np.array([f"g{g}" for g in gid]),
        order=np.tile(np.arange(per_group), n_groups),
        utt_ids=np.array([f"u{i}" for i in range(n)]),
        folds=[Split("f", train, val, test)],
        **extra,
    )


# ------------------------------------------------------------------ ModalityIndex
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_exact_search_agrees_with_bruteforce(metric):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 7)).astype(np.float32)
    ids = rng.permutation(1000)[:80] + 5  # arbitrary dataset ids
    q = rng.normal(size=(12, 7)).astype(np.float32)
    idx = ModalityIndex.build("a", x, ids, metric)
    assert idx.index.ntotal == 80
    dist, got = idx.search(q, 6)
    bf = _bruteforce(x, q, metric)
    order = np.argsort(bf, axis=1)[:, :6]
    np.testing.assert_array_equal(got, ids[order])
    np.testing.assert_allclose(dist, np.take_along_axis(bf, order, 1), rtol=1e-4, atol=1e-4)
    # pair_distance is the same metric
    np.testing.assert_allclose(idx.pair_distance(q, x[:12]), bf[np.arange(12), np.arange(12)], rtol=1e-4, atol=1e-4)


def test_search_pads_when_fewer_rows_than_k():
    x = np.eye(3, dtype=np.float32)
    idx = ModalityIndex.build("v", x, np.array([7, 8, 9]))
    dist, ids = idx.search(x[:1], 5)
    assert ids.shape == (1, 5) and ids[0, 0] == 7 and set(ids[0, :3]) == {7, 8, 9}
    assert (ids[0, 3:] == -1).all() and np.isinf(dist[0, 3:]).all()


def test_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        ModalityIndex.build("a", np.zeros((2, 2), np.float32), np.arange(2), "manhattan")


def test_build_indexes_hold_only_available_training_rows():
    ds = _dataset(missing=[(0, 2), (3, 0), (50, 1)])  # rows 0, 3 train; 50 test
    train = ds.folds[0].train
    idx = build_indexes(ds, train)
    assert set(idx) == set(MODALITIES)
    for j, m in enumerate(MODALITIES):
        assert idx[m].metric == DEFAULT_METRICS[m]
        want = train[ds.available[train, j]]
        np.testing.assert_array_equal(np.sort(idx[m].ids), np.sort(want))
    assert 0 not in idx["v"].ids and 3 not in idx["a"].ids and 0 in idx["a"].ids
    for m in MODALITIES:
        assert not np.isin(idx[m].ids, np.concatenate([ds.folds[0].val, ds.folds[0].test])).any()


# ------------------------------------------------------------------ neighbours
@pytest.mark.parametrize("merge", ["fused", "concat"])
@pytest.mark.parametrize("condition", ["a", "t", "v", "at", "tv", "atv"])
def test_neighbours_exclude_query_and_non_training(merge, condition):
    ds = _dataset(seed=2)
    fold = ds.folds[0]
    idx = build_indexes(ds, fold.train)
    nb = retrieve_neighbours(ds, idx, fold.train, condition, 4, merge=merge)
    assert nb.shape == (len(fold.train), 4) and nb.dtype == np.int64
    assert (nb >= 0).all()  # enough training rows: nothing padded
    assert (nb != fold.train[:, None]).all()  # never the query itself
    assert np.isin(nb, fold.train).all()  # only training utterances
    for row in nb:
        assert len(set(row.tolist())) == 4  # no duplicates


def test_validation_and_test_never_retrieved_even_as_near_copies():
    ds = _dataset(seed=3, copy_eval=True)
    fold = ds.folds[0]
    idx = build_indexes(ds, fold.train)
    # queries from every part, including the val/test rows that copy training rows
    for part in ("train", "val", "test"):
        nb = retrieve_neighbours(ds, idx, fold.part(part), "atv", 3)
        assert np.isin(nb, fold.train).all()
    # a val row that copies training row i has i as its first neighbour
    val = fold.val
    nb = retrieve_neighbours(ds, idx, val, "atv", 1)
    d = ((ds.features["a"][val][:, None] - ds.features["a"][fold.train][None]) ** 2).sum(-1)
    np.testing.assert_array_equal(nb[:, 0], fold.train[d.argmin(1)])


def test_duplicate_training_row_is_retrieved_not_the_query():
    ds = _dataset(seed=4)
    fold = ds.folds[0]
    i, j = int(fold.train[0]), int(fold.train[10])
    for m in MODALITIES:
        ds.features[m][j] = ds.features[m][i]
    idx = build_indexes(ds, fold.train)
    for merge in ("fused", "concat"):
        nb = retrieve_neighbours(ds, idx, np.array([i, j]), "atv", 3, merge=merge)
        assert nb[0, 0] == j and nb[1, 0] == i


def _concat_bruteforce(ds, train, q, mods, K):
    """The release's merge by brute force: per available modality its top 2K+1 list, concatenated in
    modality order, the query and repeats dropped."""
    seen = []
    for m in mods:
        j = MODALITIES.index(m)
        rows = train[ds.available[train, j]]
        d = _bruteforce(ds.features[m][rows], ds.features[m][q : q + 1], DEFAULT_METRICS[m])[0]
        for r in rows[np.argsort(d, kind="stable")[: 2 * K + 1]]:
            if r != q and r not in seen:
                seen.append(int(r))
    return seen[:K]


def test_only_available_modalities_are_used():
    K = 3
    ds = _dataset(seed=5, v_pairs=True, copy_eval=False)
    fold = ds.folds[0]
    train = fold.train
    full = build_indexes(ds, train)
    no_v = {m: full[m] for m in ("a", "t")}
    for merge in ("fused", "concat"):
        at = retrieve_neighbours(ds, full, train, "at", K, merge=merge)
        np.testing.assert_array_equal(at, retrieve_neighbours(ds, no_v, train, "at", K, merge=merge))
        # changing video entirely changes nothing under 'at'
        ds2 = _dataset(seed=5, v_pairs=False, copy_eval=False)
        np.testing.assert_array_equal(
            at, retrieve_neighbours(ds2, build_indexes(ds2, train), train, "at", K, merge=merge)
        )
    at = retrieve_neighbours(ds, full, train, "at", K, merge="concat")
    for r, q in enumerate(train):
        assert at[r].tolist() == _concat_bruteforce(ds, train, int(q), ("a", "t"), K)
    # the video pattern does matter when video is available: the video twin comes first
    atv = retrieve_neighbours(ds, full, train, "atv", K, merge="fused")
    vv = ds.features["v"][train]
    twin = train[np.argsort(((vv[:, None] - vv[None]) ** 2).sum(-1), 1)[:, 1]]
    assert (atv[:, 0] == twin).mean() > 0.9
    assert (at[:, 0] == twin).mean() < 0.5


@pytest.mark.parametrize("condition", ["a", "t"])
def test_single_modality_fused_is_exact_topk(condition):
    ds = _dataset(seed=6)
    train = ds.folds[0].train
    nb = retrieve_neighbours(ds, build_indexes(ds, train), train, condition, 4, merge="fused")
    x = ds.features[condition][train]
    d = _bruteforce(x, x, DEFAULT_METRICS[condition])
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(nb, train[np.argsort(d, 1)[:, :4]])


def test_naturally_missing_query_modality_is_not_searched():
    K = 3
    ds = _dataset(seed=7, v_pairs=True, copy_eval=False, missing=[(5, 0), (6, 2)])
    train = ds.folds[0].train
    idx = build_indexes(ds, train)
    # row 5: audio naturally missing -> under 'at' only text is searched
    nb = retrieve_neighbours(ds, idx, np.array([5]), "at", K, merge="concat")
    assert nb[0].tolist() == _concat_bruteforce(ds, train, 5, ("t",), K)
    # row 6: video naturally missing -> under 'atv' only audio and text
    nb = retrieve_neighbours(ds, idx, np.array([6]), "atv", K, merge="concat")
    assert nb[0].tolist() == _concat_bruteforce(ds, train, 6, ("a", "t"), K)
    # a query with none of the condition's modalities gets no neighbours
    ds3 = _dataset(seed=7, missing=[(5, 0)])
    nb = retrieve_neighbours(ds3, build_indexes(ds3, train), np.array([5, 7]), "a", K)
    assert (nb[0] == -1).all() and (nb[1] >= 0).all()


def test_unknown_merge():
    ds = _dataset()
    with pytest.raises(ValueError, match="merge"):
        retrieve_neighbours(ds, build_indexes(ds, ds.folds[0].train), ds.folds[0].train, "at", 2, merge="sum")


def test_hnsw_mostly_agrees_with_exact():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(400, 16)).astype(np.float32)
    ids = np.arange(400)
    q = x[:50] + 0.01 * rng.normal(size=(50, 16)).astype(np.float32)
    for metric in ("l2", "cosine"):
        exact = ModalityIndex.build("a", x, ids, metric).search(q, 5)[1]
        approx_idx = ModalityIndex.build("a", x, ids, metric, approximate=True)
        assert "HNSW" in type(approx_idx.index).__name__
        approx = approx_idx.search(q, 5)[1]
        overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx)])
        assert overlap >= 0.9
    # through the dataset API
    ds = create_dataset("synthetic", size="tiny", seed=0)
    train = ds.folds[0].train
    ex = retrieve_neighbours(ds, build_indexes(ds, train), train, "at", 3)
    ap = retrieve_neighbours(ds, build_indexes(ds, train, approximate=True), train, "at", 3)
    assert np.isin(ap, train).all() and (ap != train[:, None]).all()
    assert np.mean([len(set(a) & set(b)) / 3 for a, b in zip(ex, ap)]) >= 0.8


# ------------------------------------------------------------------ views and agreement
def test_build_views_layout():
    anchors = np.array([10, 11, 12, 13])
    nb = np.array([[1, 2, 3], [4, -1, -1], [5, 6, 7], [8, 9, -1]])
    k = np.array([1, 3, 3, 2])
    v = build_views(anchors, nb, k, 3)
    np.testing.assert_array_equal(v, [[10, 10, 10, 1], [11, 4, 11, 11], [12, 5, 6, 7], [13, 13, 8, 9]])
    # general rule [i]*(K-k) + [i] + n_1..n_k
    rng = np.random.default_rng(9)
    K = 4
    anchors = np.arange(100, 130)
    nb = rng.integers(0, 50, size=(30, K))
    k = rng.integers(1, K + 1, size=30)
    v = build_views(anchors, nb, k, K)
    assert v.shape == (30, K + 1)
    for q in range(30):
        assert v[q].tolist() == [anchors[q]] * (K - k[q]) + [anchors[q]] + nb[q, : k[q]].tolist()


def _agreement_manual(y, anchors, nb, k, task):
    same, total = 0, 0
    for r, i in enumerate(anchors):
        for c, j in enumerate(nb[r]):
            if j < 0 or (k is not None and c >= k[r]):
                continue
            total += 1
            same += (y[i] == y[j]) if task == "classification" else ((y[i] >= 0) == (y[j] >= 0))
    return same / total


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_label_agreement_matches_manual(task):
    ds = _dataset(seed=10, task=task)
    train = ds.folds[0].train
    nb = retrieve_neighbours(ds, build_indexes(ds, train), train, "at", 3)
    nb[::4, 2] = -1
    rng = np.random.default_rng(0)
    k = rng.integers(1, 4, len(train))
    for kk in (None, k):
        got = label_agreement(ds, train, nb, kk)
        assert got == pytest.approx(_agreement_manual(ds.labels, train, nb, kk, task))
    assert np.isnan(label_agreement(ds, train, np.full((len(train), 3), -1)))
    # a perfect neighbour list agrees fully
    y = ds.labels
    same = np.array(
        [
            [int(train[(y[train] == y[i]) & (train != i)][0])]
            if task == "classification"
            else [int(train[((y[train] >= 0) == (y[i] >= 0)) & (train != i)][0])]
            for i in train
        ]
    )
    assert label_agreement(ds, train, same) == 1.0


# ------------------------------------------------------------------ vectorised merge, large-N index
def _old_merge(ds, indexes, query_idx, condition, K, merge="fused"):
    """The per-query Python merge the vectorised one replaced (reference implementation)."""
    from hardymer.conditions import canonical_condition

    c = canonical_condition(condition)
    query_idx = np.asarray(query_idx, dtype=np.int64)
    Q = len(query_idx)
    depth = 2 * K + 1
    cand, usable = {}, {}
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
        seen = []
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
                d = (
                    indexes[m].pair_distance(
                        np.repeat(ds.features[m][i : i + 1], len(ids_arr), 0), ds.features[m][ids_arr]
                    )
                    / scale[m]
                )
                total += np.where(have, d, 1.0)
                n_mod += 1
            order = np.argsort(total / max(n_mod, 1), kind="stable")
            chosen = ids_arr[order][:K].tolist()
        out[qi, : len(chosen)] = chosen
    return out


@pytest.mark.parametrize("merge", ["fused", "concat"])
def test_vectorised_merge_equals_the_per_query_merge(merge):
    rng = np.random.default_rng(3)
    missing = [(int(r), int(j)) for r, j in zip(rng.integers(0, 60, 25), rng.integers(0, 3, 25))]
    cases = [
        _dataset(seed=1),
        _dataset(seed=2, v_pairs=True, missing=missing),
        create_dataset("synthetic", size="tiny", seed=0, missing_rate=0.3),
    ]
    for ds in cases:
        train = ds.folds[0].train
        indexes = build_indexes(ds, train)
        queries = [train, np.concatenate([ds.folds[0].val, ds.folds[0].test]), train[::3]]
        for cond in ("a", "t", "v", "at", "av", "tv", "atv"):
            for K in (1, 3):
                for q in queries:
                    if len(q) == 0:
                        continue
                    old = _old_merge(ds, indexes, q, cond, K, merge)
                    for chunk in (1024, 7):
                        np.testing.assert_array_equal(
                            retrieve_neighbours(ds, indexes, q, cond, K, merge, chunk=chunk), old
                        )


def _clustered(n, d, seed=0, latent=8):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, latent)).astype(np.float32)
    w = rng.normal(size=(latent, d)).astype(np.float32)
    return (z @ w + 0.1 * rng.normal(size=(n, d))).astype(np.float32)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_ivf_index_recall_against_exact(metric):
    from hardymer.retrieval.index import exact_search, recall_at_k

    x = _clustered(6000, 96, seed=4)
    rows = np.arange(1000, 6000)  # a subset of the array, indexed without copying it
    idx = ModalityIndex.build_ivf("a", x, rows, metric, pca_dim=16, k=8, sample=300)
    assert idx.kind == "ivf" and idx.source is x and idx.recall is not None and idx.recall >= 0.99
    q = x[np.random.default_rng(1).choice(rows, 200, replace=False)]
    dist, ids = idx.search(q, 8)
    ed, er = exact_search(x, rows, q, 8, metric)
    assert recall_at_k(rows[er], ids) >= 0.97  # fresh queries: close to the tuned recall
    # the exact distances of the found neighbours, in ascending order
    got = idx.pair_distance(np.repeat(q, 8, 0), x[ids.ravel()]).reshape(200, 8)
    np.testing.assert_allclose(dist, got, rtol=1e-4, atol=1e-4)
    assert (np.diff(dist, axis=1) >= -1e-6).all()
    # chunked exact search equals faiss' flat search
    flat = ModalityIndex.build("a", x[rows], rows, metric)
    fd, fi = flat.search(q, 8)
    ed2, er2 = exact_search(x, rows, q, 8, metric, chunk=700)
    np.testing.assert_array_equal(rows[er2], fi)
    np.testing.assert_allclose(ed2, fd, rtol=1e-4, atol=1e-4)


def test_index_kind_threshold():
    from hardymer.retrieval.index import APPROX_MIN_ROWS, index_kind

    assert index_kind(None, APPROX_MIN_ROWS) == "exact" and index_kind(None, APPROX_MIN_ROWS + 1) == "ivf"
    assert index_kind(True, 10) == "hnsw" and index_kind(False, 10**9) == "exact" and index_kind("ivf", 10) == "ivf"
    with pytest.raises(ValueError, match="index kind"):
        index_kind("lsh", 10)
    ds = create_dataset("synthetic", size="tiny", seed=0)
    assert all(i.kind == "exact" for i in build_indexes(ds, ds.folds[0].train).values())


# ------------------------------------------------------------------ shared per-modality candidates
@pytest.mark.parametrize("merge", ["fused", "concat"])
def test_shared_candidates_equal_per_condition_search(merge):
    from hardymer.retrieval.index import search_candidates

    rng = np.random.default_rng(11)
    missing = [(int(r), int(j)) for r, j in zip(rng.integers(0, 60, 30), rng.integers(0, 3, 30))]
    cases = [
        _dataset(seed=4),
        _dataset(seed=5, v_pairs=True, missing=missing),
        create_dataset("synthetic", size="tiny", seed=1, missing_rate=0.3),
    ]
    for ds in cases:
        train = ds.folds[0].train
        indexes = build_indexes(ds, train)
        assert all(i.kind == "exact" for i in indexes.values())
        for q in (train, np.concatenate([ds.folds[0].val, ds.folds[0].test])):
            for K in (1, 3):
                cand = search_candidates(ds, indexes, q, K, distances=merge == "fused", chunk=13)
                for cond in ("a", "t", "v", "at", "av", "tv", "atv"):
                    today = retrieve_neighbours(ds, indexes, q, cond, K, merge)
                    np.testing.assert_array_equal(_old_merge(ds, indexes, q, cond, K, merge), today)
                    for chunk in (1024, 5):
                        np.testing.assert_array_equal(
                            retrieve_neighbours(ds, indexes, q, cond, K, merge, chunk=chunk, candidates=cand), today
                        )


def test_shared_candidates_are_checked_against_the_queries():
    from hardymer.retrieval.index import search_candidates

    ds = _dataset(seed=6)
    train = ds.folds[0].train
    indexes = build_indexes(ds, train)
    cand = search_candidates(ds, indexes, train, 2)
    with pytest.raises(ValueError, match="depth"):
        retrieve_neighbours(ds, indexes, train, "at", 3, candidates=cand)
    with pytest.raises(ValueError, match="other queries"):
        retrieve_neighbours(ds, indexes, train[:-1], "at", 2, candidates=cand)
    only_a = search_candidates(ds, indexes, train, 2, modalities=["a"])
    with pytest.raises(ValueError, match="modality"):
        retrieve_neighbours(ds, indexes, train, "at", 2, candidates=only_a)
    np.testing.assert_array_equal(
        retrieve_neighbours(ds, indexes, train, "a", 2, candidates=only_a),
        retrieve_neighbours(ds, indexes, train, "a", 2),
    )


def test_shared_candidates_with_ivf_indexes_and_their_recall():
    """Approximate indexes: shared candidates give the per-condition result; recall is measured."""
    from hardymer.retrieval.index import exact_search, recall_at_k, search_candidates

    n = 4000
    feats = {m: _clustered(n, d, seed=s) for s, (m, d) in enumerate({"a": 24, "t": 32, "v": 16}.items())}
    idx = np.arange(n)
    ds = MultimodalDataset(
        name="ivf",
        task="regression",
        features=feats,
        available=np.ones((n, 3), bool),
        labels=np.zeros(n, np.float32),
        groups=idx.astype(str),
        order=np.zeros(n, np.int64),
        utt_ids=idx.astype(str),
        folds=[Split("0", idx, np.array([], np.int64), np.array([], np.int64))],
    )
    indexes = build_indexes(ds, idx, approximate="ivf")
    for m, index in indexes.items():
        assert index.kind == "ivf" and index.recall >= 0.99
        q = np.random.default_rng(2).choice(n, 300, replace=False)
        exact = exact_search(feats[m], idx, feats[m][q], 8, DEFAULT_METRICS[m])[1]
        assert recall_at_k(exact, index.search(feats[m][q], 8)[1]) >= 0.97
    cand = search_candidates(ds, indexes, idx, 3)
    for cond in ("a", "tv", "atv"):
        np.testing.assert_array_equal(
            retrieve_neighbours(ds, indexes, idx, cond, 3, candidates=cand),
            retrieve_neighbours(ds, indexes, idx, cond, 3),
        )
