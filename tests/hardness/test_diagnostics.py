"""Hardness diagnostics: checked against sklearn / scipy and hand-built cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from hardymer.config import load_config
from hardymer.data.loaders.synthetic import make_synthetic
from hardymer.hardness.diagnostics import (
    DIAGNOSTIC_KEYS,
    anchor_split,
    auc_or_none,
    hardness_diagnostics,
    label_agreement_share,
    missing_sq_norm,
    own_group_share,
    spearman_or_none,
)
from hardymer.retrieval.index import label_agreement
from hardymer.training.run import run_experiment


def test_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    flag = rng.random(200) < 0.3
    score = rng.normal(size=200) + flag
    assert auc_or_none(flag, score) == pytest.approx(roc_auc_score(flag, score))
    assert auc_or_none(flag, -score) == pytest.approx(1 - roc_auc_score(flag, score))
    assert auc_or_none(np.zeros(5, bool), np.arange(5)) is None
    assert auc_or_none(np.ones(5, bool), np.arange(5)) is None
    tied = np.round(score)  # many ties: each tied (positive, negative) pair counts 1/2
    assert auc_or_none(flag, tied) == pytest.approx(roc_auc_score(flag, tied))


def test_spearman_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=100)
    b = a + rng.normal(size=100)
    assert spearman_or_none(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert spearman_or_none(a, np.exp(a)) == pytest.approx(1.0)
    assert spearman_or_none(a, np.zeros(100)) is None
    assert spearman_or_none(a[:2], b[:2]) is None
    ta, tb = np.round(a), np.round(b)  # ties share their average rank
    assert spearman_or_none(ta, tb) == pytest.approx(spearmanr(ta, tb).statistic)


def test_own_group_share_and_label_agreement_hand_built() -> None:
    groups = np.array(["g0", "g0", "g0", "g1", "g1", "g2"])
    labels = np.array([1.0, -0.5, 2.0, 0.3, -1.0, 0.0])
    anchors = np.array([0, 3])
    neighbours = np.array([[1, 3, 5], [4, 0, -1]])
    # all slots: anchor 0 -> 1 (own), 3, 5; anchor 3 -> 4 (own), 0 ; -1 ignored
    assert own_group_share(groups, anchors, neighbours) == pytest.approx(2 / 5)
    k = np.array([1, 2])  # used: 0->1 (own), 3->4 (own), 3->0
    assert own_group_share(groups, anchors, neighbours, k) == pytest.approx(2 / 3)
    assert own_group_share(groups, anchors, np.full((2, 3), -1)) is None
    # sign agreement (y >= 0): 0->1 no, 3->4 no, 3->0 yes
    assert label_agreement_share(labels, False, anchors, neighbours, k) == pytest.approx(1 / 3)
    classes = np.array([0, 0, 1, 1, 1, 2])
    assert label_agreement_share(classes, True, anchors, neighbours, k) == pytest.approx(2 / 3)  # 0->1, 3->4
    assert np.isnan(label_agreement_share(labels, False, anchors, np.full((2, 3), -1)))


def test_retrieval_label_agreement_is_the_same_logic() -> None:
    ds = make_synthetic(scenario="private", size="tiny", seed=0)
    rng = np.random.default_rng(0)
    tr = ds.folds[0].train
    nb = rng.choice(tr, size=(len(tr), 3))
    k = rng.integers(1, 4, len(tr))
    assert label_agreement(ds, tr, nb, k) == label_agreement_share(ds.labels, False, tr, nb, k)


def test_missing_sq_norm_and_anchor_split() -> None:
    ds = make_synthetic(scenario="private", size="tiny", seed=0)
    idx = np.array([0, 2, 5])
    want = (ds.features["t"][idx].astype(np.float64) ** 2).sum(1) + (ds.features["v"][idx].astype(np.float64) ** 2).sum(
        1
    )
    np.testing.assert_allclose(missing_sq_norm(ds, idx, "a"), want)
    assert np.all(missing_sq_norm(ds, idx, "atv") == 0)
    hard, easy, how = anchor_split(np.array([0.9, 0.1, 0.5, 0.7, 0.2, 0.3]), None)
    assert how == "h_top_third_vs_bottom_third"
    assert hard.tolist() == [True, False, False, True, False, False]
    assert easy.tolist() == [False, True, False, False, True, False]
    flag = np.array([True, False, True])
    hard, easy, how = anchor_split(np.zeros(3), flag)
    assert how == "true_hard_flag" and hard.tolist() == flag.tolist() and easy.tolist() == (~flag).tolist()


def test_hardness_diagnostics_with_and_without_flag() -> None:
    ds = make_synthetic(scenario="private", size="tiny", seed=0)
    tr = ds.folds[0].train
    rng = np.random.default_rng(2)
    dh, ih = rng.random(len(tr)), rng.random(len(tr))
    h = 0.6 * dh + 0.4 * ih
    nb = rng.choice(tr, size=(len(tr), 3))
    k = rng.integers(1, 4, len(tr))
    d = hardness_diagnostics(ds, "a", tr, dh, ih, h, nb, k)
    assert tuple(d) == DIAGNOSTIC_KEYS
    flag = ds.utt_meta["hard"][tr]
    assert d["hard_flag"] is True and d["anchor_split"] == "true_hard_flag"
    assert d["auc_dh_vs_hard"] == pytest.approx(roc_auc_score(flag, dh))
    assert d["auc_h_vs_hard"] == pytest.approx(roc_auc_score(flag, h))
    assert d["n_hard_anchors"] == int(flag.sum())
    assert d["spearman_dh_ih"] == pytest.approx(spearmanr(dh, ih).statistic)
    assert d["spearman_dh_missing_sq_norm"] == pytest.approx(spearmanr(dh, missing_sq_norm(ds, tr, "a")).statistic)
    assert d["k_mean_hard"] == pytest.approx(k[flag].mean())
    json.dumps(d, allow_nan=False)
    plain = make_synthetic(size="tiny", seed=0, task="regression")
    tr = plain.folds[0].train
    z = np.zeros(len(tr))
    d = hardness_diagnostics(
        plain, "atv", tr, z, z, np.full(len(tr), 0.5), np.full((len(tr), 3), -1), np.ones(len(tr), int)
    )
    assert d["hard_flag"] is False and d["auc_h_vs_hard"] is None
    assert d["anchor_split"] == "h_top_third_vs_bottom_third"
    assert d["own_group_share_used"] is None and d["label_agreement_used_hard"] is None
    assert d["spearman_dh_missing_sq_norm"] is None
    json.dumps(d, allow_nan=False)


def test_hardymer_run_on_private_testbed_writes_diagnostics(tmp_path) -> None:
    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"scenario": "private", "size": "tiny", "seed": 0}},
            "method": {
                "name": "hardymer",
                "options": {"hidden": 32, "depth": 1, "decoder_hidden": 64, "critic_epochs": 3},
            },
            "condition": "a",
            "cache_dir": None,
            "train": {"epochs": 2, "patience": 0},
            "out": str(tmp_path / "run"),
        }
    )
    run_experiment(cfg)
    summary = json.loads((tmp_path / "run" / "hardness_summary.json").read_text())
    info = summary["conditions"]["a"]
    assert set(DIAGNOSTIC_KEYS) <= set(info)
    assert info["hard_flag"] is True and info["anchor_split"] == "true_hard_flag"
    assert info["auc_h_vs_hard"] is not None and 0.0 <= info["auc_h_vs_hard"] <= 1.0
    assert 0.0 <= info["own_group_share_used"] <= 1.0
