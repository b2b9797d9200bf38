"""The built-in synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from hardymer.data import create_dataset
from hardymer.data.loaders.synthetic import CLASS_NAMES, SIZES, make_synthetic


def _same(d1, d2) -> bool:
    return (
        all(np.array_equal(d1.features[m], d2.features[m]) for m in "atv")
        and np.array_equal(d1.labels, d2.labels)
        and np.array_equal(d1.groups, d2.groups)
        and np.array_equal(d1.available, d2.available)
        and all(
            np.array_equal(a, b)
            for a, b in zip(
                (d1.folds[0].train, d1.folds[0].val, d1.folds[0].test),
                (d2.folds[0].train, d2.folds[0].val, d2.folds[0].test),
            )
        )
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_deterministic_per_seed(task: str) -> None:
    a = make_synthetic(seed=3, task=task, size="tiny", missing_rate=0.2)
    b = make_synthetic(seed=3, task=task, size="tiny", missing_rate=0.2)
    c = make_synthetic(seed=4, task=task, size="tiny", missing_rate=0.2)
    assert _same(a, b)
    assert not _same(a, c)
    assert not np.array_equal(a.features["t"][:5], c.features["t"][:5])


def test_sizes_and_structure() -> None:
    for size in ("tiny", "small"):
        ds = make_synthetic(size=size)
        assert len(np.unique(ds.groups)) == SIZES[size]
        assert ds.dims == {"a": 48, "t": 64, "v": 32}
    ds = make_synthetic(n_groups=10, dims=(5, 6, 7))
    assert len(np.unique(ds.groups)) == 10
    assert ds.dims == {"a": 5, "t": 6, "v": 7}
    assert len(ds.utt_ids) == len(set(ds.utt_ids.tolist())) == len(ds)
    # every group has at least 2 utterances, order is 0..k-1 inside each group
    for g in np.unique(ds.groups):
        o = np.sort(ds.order[ds.groups == g])
        assert len(o) >= 2 and np.array_equal(o, np.arange(len(o)))
    # group-disjoint split of the groups, about 70/10/20
    ds = make_synthetic(size="small")
    f = ds.folds[0]
    assert np.array_equal(np.sort(np.concatenate([f.train, f.val, f.test])), np.arange(len(ds)))
    n_groups = [len(np.unique(ds.groups[p])) for p in (f.train, f.val, f.test)]
    assert n_groups == [168, 24, 48]


def test_classification_labels() -> None:
    ds = make_synthetic(task="classification", size="small")
    assert ds.task == "classification" and ds.class_names == CLASS_NAMES and ds.output_dim == 4
    assert ds.labels.dtype == np.int64
    assert set(np.unique(ds.labels).tolist()) == {0, 1, 2, 3}


def test_regression_labels() -> None:
    ds = make_synthetic(task="regression", size="small")
    y = ds.labels
    assert ds.task == "regression" and ds.output_dim == 1 and y.dtype == np.float32
    assert y.min() >= -3 and y.max() <= 3 and ds.label_range == (-3.0, 3.0)
    assert np.allclose(y * 5, np.round(y * 5), atol=1e-4)  # MOSI-like 0.2 grid
    assert (y == 0).any() and (y > 0).any() and (y < 0).any()


def test_registry_and_bad_arguments() -> None:
    ds = create_dataset("synthetic", size="tiny", seed=1)
    assert _same(ds, make_synthetic(size="tiny", seed=1))
    with pytest.raises(ValueError, match="task"):
        make_synthetic(task="ranking")
    with pytest.raises(ValueError, match="size"):
        make_synthetic(size="huge")


def _probe(ds, m: str, idx_train, idx_test) -> float:
    x, y = ds.features[m], ds.labels
    if ds.task == "classification":
        model = LogisticRegression(max_iter=300).fit(x[idx_train], y[idx_train])
    else:
        model = Ridge(alpha=1.0).fit(x[idx_train], y[idx_train])
    return float(model.score(x[idx_test], y[idx_test]))


def test_text_most_informative() -> None:
    ds = make_synthetic(task="classification", size="small", seed=0)
    f = ds.folds[0]
    acc = {m: _probe(ds, m, f.train, f.test) for m in "atv"}
    assert acc["t"] > acc["a"] > acc["v"] > 0.25 + 0.05, acc  # all above chance (4 classes)
    ds = make_synthetic(task="regression", size="small", seed=0)
    f = ds.folds[0]
    r2 = {m: _probe(ds, m, f.train, f.test) for m in "atv"}
    assert r2["t"] > r2["a"] and r2["t"] > r2["v"] and min(r2.values()) > 0, r2


def test_ambiguity_makes_samples_harder() -> None:
    clear = make_synthetic(size="small", ambiguity=0.0)
    assert (clear.meta["clarity"] == 1).all()
    ds = make_synthetic(size="small", ambiguity=0.3)
    clarity = ds.meta["clarity"]
    assert clarity.shape == (len(ds), 3)
    assert 0.25 < float((clarity < 1).mean()) < 0.35
    f = ds.folds[0]
    model = LogisticRegression(max_iter=300).fit(ds.features["t"][f.train], ds.labels[f.train])
    test = f.test
    ok = model.predict(ds.features["t"][test]) == ds.labels[test]
    ambiguous = clarity[test, 1] < 1
    assert ok[~ambiguous].mean() > ok[ambiguous].mean() + 0.15
    # and more ambiguity -> lower accuracy overall
    acc_clear = _probe(clear, "t", clear.folds[0].train, clear.folds[0].test)
    very = make_synthetic(size="small", ambiguity=0.7)
    assert acc_clear > _probe(very, "t", very.folds[0].train, very.folds[0].test) + 0.1


def test_missing_rate_masks_zero_rows() -> None:
    full = make_synthetic(size="small")
    assert full.available.all()
    ds = make_synthetic(size="small", missing_rate=0.3)
    av = ds.available
    assert av.dtype == bool and av.shape == (len(ds), 3)
    assert 0.2 < float((~av).mean()) < 0.35
    assert av.any(axis=1).all(), "an utterance lost all three modalities"
    for j, m in enumerate("atv"):
        miss = ~av[:, j]
        assert miss.any()
        assert (ds.features[m][miss] == 0).all()
        assert (np.abs(ds.features[m][~miss]).sum(1) > 0).all()
