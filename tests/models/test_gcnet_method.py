"""Faithfulness of ``gcnet``: the dialogue graphs on hand-checked cases, the two graph layers
against direct loops, the reconstruction loss counting only missing entries, speakers reaching the
model, the test split never read, and end-to-end runs."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from hardymer.conditions import MODALITIES
from hardymer.config import TrainConfig, load_config
from hardymer.data import create_dataset
from hardymer.data.batching import Batch, GroupBatcher, speaker_codes
from hardymer.data.loaders.npz import save_npz
from hardymer.data.protocol import FixedCondition, make_condition_sampler
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.models.graph import (
    GraphConv,
    RelationalGraphConv,
    speaker_adjacency,
    speaker_roles,
    temporal_adjacency,
    window_mask,
)
from hardymer.testing import check_method
from hardymer.training.run import run_experiment
from hardymer.training.trainer import fit

MOSI = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mosi-poria"
SMALL = dict(hidden=8, dropout=0.0)


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=0)


def _make(ds, **opts):
    torch.manual_seed(0)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    return create_method("gcnet", spec, **{**SMALL, **opts})


def _batch(ds, n=4) -> Batch:
    return next(iter(GroupBatcher(ds, ds.folds[0].train, batch_size=n)))


# -- graphs ---------------------------------------------------------------------------------------


def test_temporal_graph_of_a_three_utterance_dialogue():
    valid = torch.tensor([[True, True, True]])
    adj = temporal_adjacency(valid, past=1, future=1)[0]  # [3 relations, i, j]
    past, now, future = adj.numpy()
    # node i receives from j in [i - 1, i + 1]; past: j < i, now: j == i, future: j > i
    np.testing.assert_array_equal(past, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(now, np.eye(3))
    np.testing.assert_array_equal(future, [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    # an asymmetric window: two back, none ahead
    past, now, future = temporal_adjacency(valid, past=2, future=0)[0].numpy()
    np.testing.assert_array_equal(past, [[0, 0, 0], [1, 0, 0], [1, 1, 0]])
    assert future.sum() == 0 and now.sum() == 3


def test_graph_has_no_edges_to_padding_or_across_groups():
    valid = torch.tensor([[True, True, False], [True, True, True]])
    win = window_mask(valid, 3, 3)
    assert not win[0, 2].any() and not win[0, :, 2].any()
    assert win[0, :2, :2].all() and win[1].all()
    # the batch dimension keeps groups apart: adjacency is per group
    assert temporal_adjacency(valid, 1, 1).shape == (2, 3, 3, 3)


def test_speaker_roles_and_relations():
    speaker = torch.tensor([[5, 3, 5, 7, -1]])
    valid = torch.tensor([[True, True, True, True, False]])
    roles = speaker_roles(speaker, valid)
    assert roles.tolist() == [[0, 1, 0, 2, 0]]  # order of first appearance; padding 0
    adj = speaker_adjacency(roles, valid, past=1, future=1, n_roles=2)[0]  # [4, i, j]
    # relation = role_i * 2 + role_j; role 2 shares the last role (1)
    rel = {(i, j): int(adj[:, i, j].argmax()) for i in range(4) for j in range(4) if adj[:, i, j].any()}
    assert rel == {
        (0, 0): 0,
        (0, 1): 1,
        (1, 0): 2,
        (1, 1): 3,
        (1, 2): 2,
        (2, 1): 1,
        (2, 2): 0,
        (2, 3): 1,
        (3, 2): 2,
        (3, 3): 3,
    }
    assert adj.sum(0).max() == 1  # one relation per edge
    # one speaker per group: everything in relation 0 (one relation in effect)
    one = speaker_adjacency(torch.zeros(1, 4, dtype=torch.long), valid[:, :4], 1, 1, 2)[0]
    assert one[1:].sum() == 0 and one[0].sum() == 10


def test_rgcn_is_per_relation_mean_plus_root_against_loops():
    torch.manual_seed(0)
    conv = RelationalGraphConv(3, 2, n_relations=2)
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    conv = conv.double()
    adj = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    adj[0, 0, 0, [0, 1]] = 1  # node 0 <- 0, 1 (relation 0)
    adj[0, 1, 0, 3] = 1  # node 0 <- 3 (relation 1)
    adj[0, 0, 2, [1, 2, 3]] = 1  # node 2 <- 1, 2, 3 (relation 0)
    out = conv(x, adj)[0]
    W, root = conv.weight.detach(), conv.root
    for i in range(4):
        want = root(x[0, i])
        for r in range(2):
            nb = adj[0, r, i].nonzero().flatten().tolist()
            if nb:
                want = want + torch.stack([x[0, j] @ W[r] for j in nb]).mean(0)
        torch.testing.assert_close(out[i], want)


def test_graph_conv_is_a_sum_plus_root_against_loops():
    torch.manual_seed(0)
    conv = GraphConv(3, 2).double()
    x = torch.randn(1, 3, 3, dtype=torch.float64)
    adj = torch.tensor([[[1, 1, 0], [1, 1, 1], [0, 1, 1]]], dtype=torch.float64)
    out = conv(x, adj)[0]
    for i in range(3):
        s = sum(x[0, j] for j in range(3) if adj[0, i, j])
        torch.testing.assert_close(out[i], conv.lin_rel(s) + conv.lin_root(x[0, i]))


# -- losses ---------------------------------------------------------------------------------------


def test_reconstruction_loss_counts_only_the_missing_entries(ds):
    m = _make(ds)
    b = _batch(ds).with_condition("t")  # audio and video missing
    d = {mod: b.x_full[mod].shape[-1] for mod in MODALITIES}
    rec = torch.cat([b.x_full[mod] for mod in MODALITIES], dim=-1).clone()
    assert float(m.reconstruction_loss(rec, b)) == pytest.approx(0.0, abs=1e-12)
    # an error on a present modality (text) costs nothing
    noisy = rec.clone()
    noisy[..., d["a"] : d["a"] + d["t"]] += 5.0
    assert float(m.reconstruction_loss(noisy, b)) == pytest.approx(0.0, abs=1e-12)
    # an error of 1 on every audio entry of one real, naturally available utterance:
    # d_a * 1 / d_a = 1, divided by the number of real utterances
    i, j = [int(v) for v in (b.valid & b.avail_full[..., 0]).nonzero()[0]]
    noisy = rec.clone()
    noisy[i, j, : d["a"]] += 1.0
    want = 1.0 / int(b.valid.sum())
    assert float(m.reconstruction_loss(noisy, b)) == pytest.approx(want, rel=1e-6)
    # padding positions never count
    pad = (~b.valid).nonzero()
    if len(pad):
        noisy = rec.clone()
        noisy[int(pad[0, 0]), int(pad[0, 1])] += 9.0
        assert float(m.reconstruction_loss(noisy, b)) == pytest.approx(0.0, abs=1e-12)


def test_naturally_unavailable_entries_are_not_reconstruction_targets(ds):
    m = _make(ds)
    b = _batch(ds)
    avail_full = b.avail_full.clone()
    i, j = [int(v) for v in b.valid.nonzero()[0]]
    avail_full[i, j, 0] = False  # audio never recorded for this utterance
    b = Batch(b.x, b.x_full, b.avail, avail_full, b.valid, b.y, b.idx, b.speaker).with_condition("t")
    rec = torch.cat([b.x_full[mod] for mod in MODALITIES], dim=-1).clone()
    rec[i, j, : ds.dims["a"]] += 3.0
    assert float(m.reconstruction_loss(rec, b)) == pytest.approx(0.0, abs=1e-12)


def test_training_loss_is_task_plus_weighted_reconstruction(ds):
    m = _make(ds, recon_weight=0.7).eval()
    b = _batch(ds)
    ctx = _ctx(ds, conditions=FixedCondition("t"))
    loss = m.training_loss(b, ctx, 0)
    bt = b.with_condition("t")
    with torch.no_grad():
        h = m.hidden(bt)
        want = m.task_loss(m.head(h), bt.y, bt.valid) + 0.7 * m.reconstruction_loss(m.rec_head(h), bt)
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-6)
    m0 = _make(ds, recon_weight=0.0).eval()
    with torch.no_grad():
        want0 = m0.task_loss(m0(bt), bt.y, bt.valid)
    assert float(m0.training_loss(b, ctx, 0)) == pytest.approx(float(want0), rel=1e-6)


def test_regression_loss_is_mse_as_released():
    ds = create_dataset("synthetic", size="tiny", seed=0, task="regression")
    m = _make(ds, recon_weight=0.0).eval()
    b = _batch(ds)
    out = m(b)
    want = ((out[b.valid].reshape(-1) - b.y[b.valid]) ** 2).mean()
    assert float(m.task_loss(out, b.y, b.valid)) == pytest.approx(float(want), rel=1e-6)


# -- inputs ---------------------------------------------------------------------------------------


def test_speakers_reach_the_model_and_change_the_speaker_graph(ds, tmp_path):
    # the same data with two speakers alternating inside each group, written and read as npz
    n = len(ds)
    spk = np.where(ds.order % 2 == 0, "F", "M")
    path = save_npz(dataclasses.replace(ds, speakers=spk), tmp_path / "spk.npz")
    with_spk = create_dataset("npz", root=str(path))
    assert speaker_codes(with_spk).tolist() == [0 if s == "F" else 1 for s in with_spk.speakers]
    b = next(iter(GroupBatcher(with_spk, np.arange(n), batch_size=4)))
    assert b.speaker is not None and int(b.speaker[b.valid].max()) == 1 and (b.speaker[~b.valid] == -1).all()
    m = _make(with_spk).eval()
    with torch.no_grad():
        out = m(b)
        b0 = Batch(b.x, b.x_full, b.avail, b.avail_full, b.valid, b.y, b.idx, torch.zeros_like(b.speaker))
        out0 = m(b0)
    assert not torch.allclose(out, out0)  # the speaker branch sees the roles


def test_forward_uses_the_masked_input_only(ds):
    m = _make(ds).eval()
    b = _batch(ds).with_condition("t")
    noisy = Batch(
        x=b.x,
        x_full={k: v + 10.0 for k, v in b.x_full.items()},
        avail=b.avail,
        avail_full=b.avail_full,
        valid=b.valid,
        y=b.y,
        idx=b.idx,
        speaker=b.speaker,
    )
    with torch.no_grad():
        torch.testing.assert_close(m(b), m(noisy))


def test_options_are_validated(ds):
    from hardymer.errors import ConfigError

    for bad in ({"hidden": 1}, {"window_past": -1}, {"speakers": 0}, {"dropout": 1.0}, {"recon_weight": -1.0}):
        with pytest.raises(ConfigError, match="gcnet"):
            _make(ds, **bad)


# -- training -------------------------------------------------------------------------------------


def _ctx(ds, epochs=3, conditions=None, **train):
    tc = OmegaConf.structured(TrainConfig(epochs=epochs, patience=0, batch_size=4, **train))
    return FitContext(
        ds=ds,
        fold=ds.folds[0],
        conditions=conditions or FixedCondition("at"),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
    )


def test_training_never_reads_the_test_split(ds, monkeypatch):
    m = _make(ds)
    ctx = _ctx(ds, evaluate_test=False)
    parts: list[str] = []
    orig_batcher = FitContext.batcher

    def batcher(self, part, *a, **k):
        parts.append(part)
        return orig_batcher(self, part, *a, **k)

    monkeypatch.setattr(FitContext, "batcher", batcher)
    seen: list[np.ndarray] = []
    orig_loss = m.training_loss

    def training_loss(batch, ctx, epoch):
        seen.append(batch.idx[batch.valid].numpy())
        return orig_loss(batch, ctx, epoch)

    monkeypatch.setattr(m, "training_loss", training_loss)
    res = fit(m, ctx)
    assert res.test == {} and "test" not in parts
    used = set(np.concatenate(seen).tolist())
    assert used == set(ds.folds[0].train.tolist()) and not used & set(ds.folds[0].test.tolist())


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("protocol", ["fixed", "unified"])
def test_end_to_end_on_synthetic(tmp_path, task, protocol):
    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 0, "task": task}},
            "method": {"name": "gcnet", "options": {"hidden": 8}},
            "condition": "at",
            "protocol": protocol,
            "cache_dir": None,
            "train": {"epochs": 3, "patience": 0},
            "out": str(tmp_path / "run"),
        }
    )
    metrics = run_experiment(cfg)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["method"] == "gcnet"
    key = "mae" if task == "regression" else "wa"
    if protocol == "fixed":
        assert math.isfinite(metrics["test"][key])
    else:
        conds = set(make_condition_sampler("unified", "atv", 0).eval_conditions)
        assert conds <= set(metrics["test"]) and all(math.isfinite(metrics["test"][c][key]) for c in conds)


@pytest.mark.skipif(not MOSI.is_dir(), reason="needs the real CMU-MOSI files in ../shared/data/mosi-poria")
@pytest.mark.parametrize("protocol", ["fixed", "unified"])
def test_trains_on_real_mosi(tmp_path, protocol):
    cfg = load_config(
        {
            "data": {"name": "mosi-poria", "root": str(MOSI), "options": {}},
            "method": {"name": "gcnet", "options": {"hidden": 16}},
            "condition": "t",
            "protocol": protocol,
            "cache_dir": None,
            "train": {"epochs": 2, "patience": 0},
            "out": str(tmp_path / "run"),
        }
    )
    metrics = run_experiment(cfg)
    test = metrics["test"] if protocol == "fixed" else metrics["test"]["t"]
    assert 0.0 < test["mae"] < 3.0 and math.isfinite(test["corr"])


def test_conformance():
    check_method("gcnet")


def test_predict_on_any_subset_with_groups_and_speakers(tmp_path):
    from hardymer.inference.predictor import load, predict_file

    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 0}},
            "method": {"name": "gcnet", "options": {"hidden": 8}},
            "condition": "at",
            "protocol": "unified",
            "cache_dir": None,
            "train": {"epochs": 2, "patience": 0},
            "out": str(tmp_path / "run"),
        }
    )
    run_experiment(cfg)
    ds = create_dataset("synthetic", size="tiny", seed=0)
    idx = ds.folds[0].test
    model = load(tmp_path / "run" / "checkpoint.pt")
    spk = np.where(ds.order[idx] % 2 == 0, "A", "B")
    full = model.predict(audio=ds.features["a"][idx], text=ds.features["t"][idx], groups=ds.groups[idx], speakers=spk)
    assert full.probs is not None and np.isfinite(full.probs).all() and set(full.modalities) == {"at"}
    # speakers change the speaker graph, hence the outputs
    other = model.predict(audio=ds.features["a"][idx], text=ds.features["t"][idx], groups=ds.groups[idx])
    assert other.probs is not None and not np.allclose(full.probs, other.probs)
    np.savez(tmp_path / "in.npz", video=ds.features["v"][idx], groups=ds.groups[idx].astype(str), speakers=spk)
    csv = predict_file(tmp_path / "run", tmp_path / "in.npz")
    assert csv.count("\n") == len(idx) + 1 and ",v," in csv
    np.savez(tmp_path / "bad.npz", video=ds.features["v"][idx], speakers=spk[:-1])
    with pytest.raises(Exception, match="speakers shape"):
        predict_file(tmp_path / "run", tmp_path / "bad.npz")
