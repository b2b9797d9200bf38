"""The ``scenario=private`` testbed of the synthetic dataset, and per-utterance metadata."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hardymer.data import Standardizer, create_dataset
from hardymer.data.dataset import MultimodalDataset
from hardymer.data.loaders.synthetic import (
    PRIVATE_CLASS_EDGES,
    PRIVATE_SIZES,
    make_private_scenario,
    make_synthetic,
)
from hardymer.errors import ConfigError, DataError


def _tiny(**kw) -> MultimodalDataset:
    return make_synthetic(scenario="private", size="tiny", **kw)


def _digest(ds: MultimodalDataset) -> str:
    h = hashlib.sha256()
    for m in "atv":  # rounded, so that last-ulp differences of tanh between CPUs do not matter
        h.update(np.round(ds.features[m].astype(np.float64), 4).tobytes())
    for a in (ds.labels, ds.available, ds.order, ds.folds[0].train, ds.folds[0].val, ds.folds[0].test):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update("|".join(ds.utt_ids.tolist()).encode())
    return h.hexdigest()


def test_default_scenario_unchanged() -> None:
    """The default generator's output is pinned (hashes taken before the private scenario existed)."""
    assert (
        _digest(make_synthetic(seed=3, size="tiny", missing_rate=0.2))
        == "cf1da767847e4751f539edcf631a8efe9e0e8d0ca94093b358c001c6adbbfef5"
    )
    assert (
        _digest(make_synthetic(seed=1, task="regression", size="tiny"))
        == "608bc76bfe3da09f5065432bfe76a075cac39d3550ebfc76093f397f9a6ef02e"
    )
    assert make_synthetic(size="tiny").utt_meta == {}


def test_deterministic_per_seed() -> None:
    a, b, c = _tiny(seed=5), _tiny(seed=5), _tiny(seed=6)
    for m in "atv":
        assert np.array_equal(a.features[m], b.features[m])
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.utt_meta["hard"], b.utt_meta["hard"])
    assert not np.array_equal(a.features["t"][:5], c.features["t"][:5])


def test_hard_changes_label_only_through_private_term() -> None:
    ds = _tiny(seed=2, rho=0.4)
    easy = _tiny(seed=2, rho=0.4, force_hard=False)
    allhard = _tiny(seed=2, rho=0.4, force_hard=True)
    hard = ds.utt_meta["hard"]
    contrib = ds.utt_meta["private_contribution"]
    assert hard.dtype == bool and 0 < hard.sum() < len(ds)
    assert np.all(contrib[~hard] == 0) and np.all(contrib[hard] != 0)
    assert not easy.utt_meta["hard"].any() and allhard.utt_meta["hard"].all()
    # audio and video never see the private signal
    for m in "av":
        assert np.array_equal(ds.features[m], easy.features[m])
        assert np.array_equal(ds.features[m], allhard.features[m])
    # text (the private modality) differs exactly on the hard rows
    diff = np.any(ds.features["t"] != easy.features["t"], axis=1)
    assert np.array_equal(diff, hard)
    # the label moves by exactly the private term (clipped to [-3, 3])
    inside = np.abs(easy.labels) < 3.0
    assert inside.mean() > 0.8
    np.testing.assert_allclose(ds.labels[inside], np.clip(easy.labels + contrib, -3, 3)[inside], atol=1e-5)
    assert np.array_equal(ds.labels[~hard], easy.labels[~hard])
    assert np.array_equal(ds.folds[0].train, easy.folds[0].train)


def test_private_modality_option() -> None:
    ds = _tiny(seed=1, private="a", force_hard=True)
    easy = _tiny(seed=1, private="a", force_hard=False)
    assert np.array_equal(ds.features["t"], easy.features["t"])
    assert np.array_equal(ds.features["v"], easy.features["v"])
    assert np.any(ds.features["a"] != easy.features["a"], axis=1).all()


def test_beta_zero_makes_hard_irrelevant() -> None:
    on = _tiny(seed=4, beta=0.0, force_hard=True)
    off = _tiny(seed=4, beta=0.0, force_hard=False)
    assert np.array_equal(on.labels, off.labels)
    assert np.all(on.utt_meta["private_contribution"] == 0)
    assert not np.array_equal(on.features["t"], off.features["t"])  # the signal is still in the text


def test_classification_bins_and_sizes() -> None:
    reg = _tiny(seed=0)
    for k in (2, 4):
        cls = _tiny(seed=0, task="classification", n_classes=k)
        assert cls.task == "classification" and cls.num_classes == k
        assert np.array_equal(cls.labels, np.digitize(reg.labels, PRIVATE_CLASS_EDGES[k]))
    assert reg.task == "regression" and reg.label_range == (-3.0, 3.0)
    small = create_dataset("synthetic", scenario="private")
    large = create_dataset("synthetic", scenario="private", size="large")
    assert len(np.unique(small.groups)) == PRIVATE_SIZES["small"]
    assert len(np.unique(large.groups)) == 3 * PRIVATE_SIZES["small"]
    assert small.dims == {"a": 32, "t": 48, "v": 16}
    assert 0.8 < float(np.std(small.labels)) < 2.0  # a sensible spread over [-3, 3]
    assert make_private_scenario(n_groups=5, dims=(3, 4, 5)).dims == {"a": 3, "t": 4, "v": 5}


@pytest.mark.parametrize("kw", [{"rho": 0.3}, {"beta": 1.0}, {"private": "t"}])
def test_private_options_need_the_scenario(kw: dict) -> None:
    with pytest.raises(ConfigError, match="scenario=private"):
        make_synthetic(size="tiny", **kw)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"private": "x"}, "private"),
        ({"rho": 1.5}, "rho"),
        ({"beta": -1}, "beta"),
        ({"size": "huge"}, "size"),
        ({"task": "classification", "n_classes": 3}, "n_classes"),
        ({"scenario": "other"}, "scenario"),
    ],
)
def test_bad_options(kw: dict, field: str) -> None:
    kw = {"scenario": "private", **kw}
    with pytest.raises(ConfigError, match=field):
        make_synthetic(**kw)


def test_utt_meta_validated_and_kept_by_standardizer() -> None:
    ds = _tiny(seed=0)
    z = Standardizer.fit(ds, ds.folds[0].train).transform(ds)
    assert np.array_equal(z.utt_meta["hard"], ds.utt_meta["hard"])
    assert np.array_equal(z.utt_meta["private_contribution"], ds.utt_meta["private_contribution"])
    with pytest.raises(DataError, match="utt_meta.bad"):
        MultimodalDataset(
            name="x",
            task=ds.task,
            features=ds.features,
            available=ds.available,
            labels=ds.labels,
            groups=ds.groups,
            order=ds.order,
            utt_ids=ds.utt_ids,
            folds=ds.folds,
            label_range=ds.label_range,
            utt_meta={"bad": np.zeros(3)},
        )
