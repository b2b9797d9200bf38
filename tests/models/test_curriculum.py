"""Curriculum controls of hardymer: neighbour-view share, presets, sequential view steps, and the
step-based stage 2 (``train.stage2_steps``)."""

import copy
import json
import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from hardymer.catalog.presets import load_presets, resolve_method
from hardymer.config import TrainConfig, load_config
from hardymer.data import Standardizer, create_dataset
from hardymer.data.batching import GroupBatcher
from hardymer.data.protocol import FixedCondition
from hardymer.errors import ConfigError
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.models.hardymer import Hardymer, view_slice
from hardymer.training.run import run_experiment
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import train_epoch

SMALL = dict(hidden=32, depth=1, decoder_hidden=64, critic_epochs=3)
K = 3


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=0)


def _cfg(out, epochs=2, train=None, **opt):
    return load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 0}},
            "method": {"name": "hardymer", "options": {**SMALL, **opt}},
            "condition": "a",
            "cache_dir": None,
            "train": {"epochs": epochs, "patience": 0, **(train or {})},
            "out": str(out),
        }
    )


def _summary(out):
    return json.loads((out / "hardness_summary.json").read_text())["conditions"]["a"]


def _k(out):
    return np.array([r["k"] for r in json.loads((out / "hardness.json").read_text())])


def _n_batches(ds):
    return len(GroupBatcher(ds, ds.folds[0].train, batch_size=TrainConfig().batch_size))


# ------------------------------------------------------------------ share
@pytest.mark.parametrize(
    ("opt", "want"),
    [
        ({}, 0.5),  # rank mapping, k = floor(K h) + 1: a third each of k = 1, 2, 3
        ({"share": 0.3}, 0.3),
        ({"hardness": "random", "share": 0.2}, 0.2),
        ({"hardness": "fixed", "share": 0.6}, 0.6),
        ({"hardness": "all"}, K / (K + 1)),
        ({"neighbours": "none"}, 0.0),
    ],
)
def test_realised_share(tmp_path, ds, opt, want):
    metrics = run_experiment(_cfg(tmp_path / "r", **opt), ds=ds)
    got = _summary(tmp_path / "r")["neighbour_view_share"]
    assert got == pytest.approx(want, abs=0.01)
    assert metrics["neighbour_view_share"] == pytest.approx(got)
    if "share" in opt:  # the share is exact up to one neighbour
        n = len(ds.folds[0].train)
        assert abs(_k(tmp_path / "r").sum() - opt["share"] * (K + 1) * n) <= 0.5 + 1e-9


def test_share_by_hardness_is_monotone_in_h(tmp_path, ds):
    run_experiment(_cfg(tmp_path / "r", share=0.4), ds=ds)
    rows = json.loads((tmp_path / "r" / "hardness.json").read_text())
    h = np.array([r["h"] for r in rows])
    k = np.array([r["k"] for r in rows])
    assert k.min() >= 0 and k.max() <= K
    i, j = np.nonzero(h[:, None] < h[None, :])
    assert (k[i] <= k[j]).all()


def test_release_mapping_logs_its_own_share(tmp_path, ds):
    run_experiment(_cfg(tmp_path / "r", mapping="release"), ds=ds)
    k = _k(tmp_path / "r")
    assert _summary(tmp_path / "r")["neighbour_view_share"] == pytest.approx(k.mean() / (K + 1))


@pytest.mark.parametrize(
    "opt", [{"share": -0.01}, {"share": 0.8}, {"K": 1, "share": 0.6}, {"hardness": "all", "share": 0.5}]
)
def test_bad_share_is_a_config_error(ds, opt):
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    with pytest.raises(ConfigError, match="share"):
        create_method("hardymer", spec, **{**SMALL, **opt})


# ------------------------------------------------------------------ presets
NEW_PRESETS = [
    "hardymer-random-h",
    "hardymer-fixed-k",
    "hardymer-all-k",
    "hardymer-no-retrieval",
    "hardymer-random-nb",
    "hardymer-seq",
    "hardymer-random-h-seq",
    "hardymer-fixed-k-seq",
    "hardymer-all-k-seq",
    "hardymer-no-retrieval-seq",
    "hardymer-random-nb-seq",
]


def test_every_ablation_has_a_sequential_twin():
    presets = load_presets()
    for name in NEW_PRESETS:
        base = name.removesuffix("-seq")
        assert base in presets and f"{base}-seq" in presets
        opts = dict(presets[f"{base}-seq"]["options"])
        assert opts.pop("view_steps") == "sequential"
        assert opts == dict(presets[base].get("options") or {})
    for name in ("hardymer-random-h", "hardymer-fixed-k"):
        assert presets[name]["options"]["share"] == 0.5


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_presets_train(tmp_path, ds, preset):
    method, opts = resolve_method(preset)
    cfg = _cfg(tmp_path / "r", **opts)
    cfg.method.name = method
    metrics = run_experiment(cfg, ds=ds)
    assert metrics["best_epoch"] == 2 and all(math.isfinite(v) for v in metrics["test"].values())
    per_batch = K + 1 if opts.get("view_steps") == "sequential" else 1
    assert metrics["stage2_steps_total"] == per_batch * _n_batches(ds)
    share = _summary(tmp_path / "r")["neighbour_view_share"]
    k = _k(tmp_path / "r")
    if "all-k" in preset:
        assert (k == K).all() and share == pytest.approx(K / (K + 1))
    elif "no-retrieval" in preset:
        assert share == 0.0
    else:
        assert share == pytest.approx(0.5, abs=0.01)


def test_no_retrieval_views_are_the_anchor(tmp_path, ds, monkeypatch):
    methods = []
    orig = Hardymer.prepare
    monkeypatch.setattr(Hardymer, "prepare", lambda self, ctx: (orig(self, ctx), methods.append(self))[0])
    _, opts = resolve_method("hardymer-no-retrieval-seq")
    run_experiment(_cfg(tmp_path / "r", **opts), ds=ds)
    views = methods[0].views.numpy()
    np.testing.assert_array_equal(views, np.broadcast_to(np.arange(len(ds))[None, :, None], views.shape))


# ------------------------------------------------------------------ sequential view steps
@pytest.fixture(scope="module")
def prepared(ds):
    std = Standardizer.fit(ds, ds.folds[0].train)
    dsi = std.transform(ds)
    tc = OmegaConf.structured(TrainConfig(epochs=2, patience=0, batch_size=6))
    ctx = FitContext(
        ds=dsi,
        fold=dsi.folds[0],
        conditions=FixedCondition("a"),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    torch.manual_seed(0)
    m = create_method(
        "hardymer", MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), **{**SMALL, "dropout": 0.0}
    )
    m.prepare(ctx)
    return m, ctx


class _CountingSteps:
    """Mixin: counts ``step`` calls of a torch optimizer."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n_steps = 0

    def step(self, closure=None):
        self.n_steps += 1
        return super().step(closure)


class _CountingAdamW(_CountingSteps, torch.optim.AdamW):
    pass


class _CountingSGD(_CountingSteps, torch.optim.SGD):
    pass


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _batches(ctx, n=2):
    return [b for _, b in zip(range(n), ctx.batcher("train", batch_size=6))]


def test_sequential_takes_one_step_per_view_and_zeroes_grads(prepared):
    base, ctx = prepared
    batches = _batches(ctx)
    seq = copy.deepcopy(base)
    seq.config.view_steps = "sequential"
    opt = _CountingAdamW(seq.parameters(), lr=1e-3)
    losses = train_epoch(seq, batches, ctx, opt, epoch=1)  # epoch 1 of 2: stage 2
    assert opt.n_steps == len(losses) == (K + 1) * len(batches)
    assert seq.steps_per_batch(2) == K + 1 and seq.steps_per_batch(1) == 1
    # the same by hand: per view, zero the gradients, backward, clip, step (view j+1 after step j)
    ref = copy.deepcopy(base)
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-3)
    leaky = copy.deepcopy(base)  # the release's variant: gradients never zeroed between views
    leaky_opt = torch.optim.AdamW(leaky.parameters(), lr=1e-3)
    ref.train()
    leaky.train()
    for batch in batches:
        B = batch.valid.shape[0]
        for m, o, zero in ((ref, ref_opt, True), (leaky, leaky_opt, False)):
            sb = m.view_batch(batch, ctx.conditions.sample_ids(B), ctx.conditions.masks)
            o.zero_grad()
            for j in range(K + 1):
                if zero:
                    o.zero_grad()
                m.stage2_loss(view_slice(sb, j * B, (j + 1) * B)).backward()
                torch.nn.utils.clip_grad_norm_(m.parameters(), ctx.train.grad_clip)
                o.step()
    for p, q in zip(_params(seq), _params(ref)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(p, q) for p, q in zip(_params(seq), _params(leaky)))


def test_sequential_differs_from_stacked_and_stage1_is_unchanged(prepared):
    base, ctx = prepared
    batch = _batches(ctx, 1)
    out = {}
    for mode in ("stacked", "sequential"):
        for epoch in (0, 1):
            m = copy.deepcopy(base)
            m.config.view_steps = mode
            opt = _CountingAdamW(m.parameters(), lr=1e-3)
            train_epoch(m, batch, ctx, opt, epoch=epoch)
            out[mode, epoch] = (_params(m), opt.n_steps)
    assert out["stacked", 1][1] == 1 and out["sequential", 1][1] == K + 1
    assert any(not torch.allclose(p, q) for p, q in zip(out["stacked", 1][0], out["sequential", 1][0]))
    # stage 1 has no views: one step per batch, the same update in both modes
    assert out["stacked", 0][1] == out["sequential", 0][1] == 1
    for p, q in zip(out["stacked", 0][0], out["sequential", 0][0]):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("chunk", [1, 2, K])
def test_view_chunks_accumulate_to_the_stacked_step(prepared, chunk):
    """view_chunk=c: the K+1 views in passes of c views, gradients accumulated into one step per
    batch; with dropout 0 the update equals the stacked one (and so does the reported loss)."""
    base, ctx = prepared
    batches = _batches(ctx)
    out = {}
    for c in (0, chunk):
        m = copy.deepcopy(base)
        m.config.view_chunk = c
        opt = _CountingSGD(m.parameters(), lr=0.1)  # SGD: the update is the gradient (Adam amplifies ~0 ones)
        losses = train_epoch(m, batches, ctx, opt, epoch=1)  # stage 2
        out[c] = (_params(m), opt.n_steps, losses)
    assert out[0][1] == out[chunk][1] == len(batches)
    np.testing.assert_allclose(out[chunk][2], out[0][2], rtol=1e-5)
    for p, q in zip(out[chunk][0], out[0][0]):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_negative_view_chunk_is_a_config_error(ds):
    with pytest.raises(ConfigError, match="view_chunk"):
        create_method("hardymer", MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), view_chunk=-1)


# ------------------------------------------------------------------ step-based stage 2
@pytest.mark.parametrize(("steps", "view_steps"), [(7, "stacked"), (7, "sequential"), (1, "stacked")])
def test_stage2_steps(tmp_path, ds, steps, view_steps):
    per_epoch = _n_batches(ds) * (K + 1 if view_steps == "sequential" else 1)
    metrics = run_experiment(
        _cfg(tmp_path / "r", epochs=2, train={"stage2_steps": steps}, view_steps=view_steps), ds=ds
    )
    s2 = math.ceil(steps / per_epoch)
    hist = json.loads((tmp_path / "r" / "history.json").read_text())
    assert [r["stage"] for r in hist] == [1] + [2] * s2  # stage 1 stays round(0.5 * 2) = 1 epoch
    assert [r["steps"] for r in hist] == [_n_batches(ds)] + [per_epoch] * s2
    assert metrics["stage1_epochs"] == 1 and metrics["stage2_epochs"] == s2
    assert metrics["stage2_steps_total"] == s2 * per_epoch >= steps
    assert (
        metrics["curriculum_steps"] == (metrics["best_epoch"] - metrics["stage1_epochs"]) * per_epoch
    )  # best_epoch is 1-based
    assert 0 < metrics["curriculum_steps"] <= metrics["stage2_steps_total"]


def test_stage2_steps_absent_keeps_the_epoch_schedule(tmp_path, ds):
    metrics = run_experiment(_cfg(tmp_path / "r", epochs=4), ds=ds)
    assert metrics["stage1_epochs"] == 2 and metrics["stage2_epochs"] == 2
    assert metrics["stage2_steps_total"] == 2 * _n_batches(ds)
    assert metrics["curriculum_steps"] == (metrics["best_epoch"] - 2) * _n_batches(
        ds
    )  # 1-based, after 2 stage-1 epochs


def test_pacing_follows_the_effective_stage2_length(tmp_path, ds, monkeypatch):
    shares = []
    orig = Hardymer.view_batch

    def spy(self, batch, cond_ids, masks, share=1.0):
        shares.append(share)
        return orig(self, batch, cond_ids, masks, share)

    monkeypatch.setattr(Hardymer, "view_batch", spy)
    n = _n_batches(ds)
    run_experiment(_cfg(tmp_path / "r", epochs=2, train={"stage2_steps": 3 * n}, pacing="linear"), ds=ds)
    assert sorted(set(shares)) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_bad_stage2_steps_is_a_config_error(tmp_path, ds):
    with pytest.raises(ConfigError, match="stage2_steps"):
        run_experiment(_cfg(tmp_path / "r", train={"stage2_steps": 0}), ds=ds)
