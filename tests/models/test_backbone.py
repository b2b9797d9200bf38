import pytest
import torch
from omegaconf import OmegaConf

from hardymer.conditions import MODALITIES, condition_mask
from hardymer.config import TrainConfig
from hardymer.data import GroupBatcher, create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.models import MethodSpec, create_method
from hardymer.models.backbone import Backbone
from hardymer.models.context import FitContext
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import fit

SMALL = dict(hidden=32, depth=1, decoder_hidden=64)


def _spec(ds):
    return MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)


def _model(ds, **opt):
    torch.manual_seed(0)
    return create_method("backbone", _spec(ds), **{**SMALL, **opt})


@pytest.fixture(scope="module")
def cls_ds():
    return create_dataset("synthetic", size="tiny", seed=0)


@pytest.fixture(scope="module")
def missing_ds():
    return create_dataset("synthetic", size="tiny", seed=1, missing_rate=0.3)


def _batch(ds, part="train", batch_size=4):
    return next(iter(GroupBatcher(ds, ds.folds[0].part(part), batch_size=batch_size)))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_forward_shapes(task):
    ds = create_dataset("synthetic", size="tiny", seed=2, task=task)
    m = _model(ds).eval()
    b = _batch(ds)
    B, L = b.valid.shape
    o = m.forward_all(b)
    assert o["out"].shape == (B, L, ds.output_dim)
    assert o["hidden"].shape == (B, L, 3 * 32)
    assert o["recon"].shape == (B, L, sum(ds.dims.values()))
    assert {k: v.shape for k, v in o["enc"].items()} == {mm: (B, L, 32) for mm in MODALITIES}
    p = m.predict_output(b)
    if task == "classification":
        assert p.shape == (B, L, 4)
        torch.testing.assert_close(p.sum(-1), torch.ones(B, L))
    else:
        assert p.shape == (B, L)
    parts = m.split_recon(o["recon"])
    assert {k: v.shape[-1] for k, v in parts.items()} == ds.dims
    m.train()
    loss = m.stage2_loss(b.with_condition("a"))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()


@pytest.mark.parametrize("condition", ["a", "t", "v", "at", "av", "tv"])
def test_missing_modality_encoding_is_zero_and_inputs_ignored(missing_ds, condition):
    ds = missing_ds
    m = _model(ds).eval()
    b = _batch(ds, batch_size=6).with_condition(condition)
    with torch.no_grad():
        o = m.forward_all(b)
    for j, mod in enumerate(MODALITIES):
        off = ~b.avail[..., j]
        assert (o["enc"][mod][off] == 0).all()
        if not condition_mask(condition)[j]:
            assert off.all()
    # arbitrary garbage in the inputs of every unavailable (modality, position) changes nothing
    g = torch.Generator().manual_seed(0)
    x = {}
    for j, mod in enumerate(MODALITIES):
        off = (~b.avail[..., j]).unsqueeze(-1)
        x[mod] = torch.where(off, 5 * torch.randn(b.x[mod].shape, generator=g), b.x[mod])
    b2 = type(b)(x=x, x_full=b.x_full, avail=b.avail, avail_full=b.avail_full, valid=b.valid, y=b.y, idx=b.idx)
    with torch.no_grad():
        o2 = m.forward_all(b2)
    v = b.valid
    torch.testing.assert_close(o2["out"][v], o["out"][v], rtol=0, atol=1e-6)
    torch.testing.assert_close(o2["hidden"][v], o["hidden"][v], rtol=0, atol=1e-6)


def test_natural_missingness_is_respected(missing_ds):
    ds = missing_ds
    m = _model(ds).eval()
    b = _batch(ds, batch_size=6)
    assert (~b.avail_full[b.valid]).any()  # the data has naturally missing modalities
    with torch.no_grad():
        enc = m.encode(b)
    for j, mod in enumerate(MODALITIES):
        assert (enc[mod][~b.avail_full[..., j]] == 0).all()
        assert (enc[mod][~b.valid] == 0).all()


def test_padding_does_not_affect_valid_outputs(missing_ds):
    ds = missing_ds
    m = _model(ds).eval()
    bt = GroupBatcher(ds, ds.folds[0].train, batch_size=4)
    lengths = (bt.groups >= 0).sum(1)
    short, long_ = int(lengths.argmin()), int(lengths.argmax())
    assert lengths[short] < lengths[long_]
    alone = bt.make_batch(bt.groups[[short]])
    padded = bt.make_batch(bt.groups[[long_, short]])
    assert alone.valid.shape[1] == lengths[short] and padded.valid.shape[1] == lengths[long_]
    assert (~padded.valid[1]).any()
    Ls = int(lengths[short])
    for c in ("atv", "a", "tv"):
        with torch.no_grad():
            oa = m.forward_all(alone.with_condition(c))
            op = m.forward_all(padded.with_condition(c))
        torch.testing.assert_close(op["out"][1, :Ls], oa["out"][0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(op["recon"][1, :Ls], oa["recon"][0], rtol=1e-5, atol=1e-5)
        for mod in MODALITIES:
            assert (op["enc"][mod][1, Ls:] == 0).all()
    # garbage at padding positions changes nothing either
    x = {mod: torch.where(padded.valid.unsqueeze(-1), t, torch.full_like(t, 7.0)) for mod, t in padded.x.items()}
    p2 = type(padded)(
        x=x,
        x_full=padded.x_full,
        avail=padded.avail,
        avail_full=padded.avail_full,
        valid=padded.valid,
        y=padded.y,
        idx=padded.idx,
    )
    with torch.no_grad():
        torch.testing.assert_close(m(p2)[padded.valid], m(padded)[padded.valid], rtol=0, atol=1e-6)


def test_recon_error_counts_missing_modalities_with_stored_features(missing_ds):
    ds = missing_ds
    m = _model(ds).eval()
    full = _batch(ds, batch_size=6)
    for c in ("a", "tv", "atv"):
        b = full.with_condition(c)
        with torch.no_grad():
            recon = m.forward_all(b)["recon"]
        err, cnt = m.recon_error(b, recon)
        cm = torch.as_tensor(condition_mask(c))
        want_cnt = ((~cm) & full.avail_full).sum(-1) * full.valid  # missing by condition, stored naturally
        torch.testing.assert_close(cnt, want_cnt.float())
        parts = m.split_recon(recon)
        want = torch.zeros_like(err)
        for j, mod in enumerate(MODALITIES):
            use = (~cm[j]) & full.avail_full[..., j] & full.valid
            want += ((parts[mod] - full.x_full[mod]) ** 2).mean(-1) * use
        torch.testing.assert_close(err, want / want_cnt.clamp(min=1), rtol=1e-5, atol=1e-6)
        assert (err[cnt == 0] == 0).all()
    # under 'a', a naturally missing video is no target: only t counts there
    b = full.with_condition("a")
    rows = full.valid & full.avail_full[..., 1] & ~full.avail_full[..., 2]
    assert rows.any()
    _, cnt = m.recon_error(b, m.forward_all(b)["recon"].detach())
    assert (cnt[rows] == 1).all()


def _ctx(ds, condition="a", **train):
    tc = OmegaConf.structured(TrainConfig(**{"epochs": 4, "patience": 0, "batch_size": 8, **train}))
    return FitContext(
        ds=ds,
        fold=ds.folds[0],
        conditions=FixedCondition(condition),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )


def _state(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def test_stage1_weights_carry_into_stage2(cls_ds, monkeypatch):
    m = _model(cls_ds, stage1_fraction=0.5)
    init = _state(m)
    modules = {name: id(mod) for name, mod in m.named_modules()}
    seen: dict = {"stages": [], "stage_of_epoch": {}}
    orig_loss = m.training_loss
    orig_s1 = m.stage1_loss

    def on_stage_start(stage, ctx):
        seen["stages"].append(stage)
        if stage == 2:
            seen["end_of_stage1"] = _state(m)

    def training_loss(batch, ctx, epoch):
        st = m.stage(epoch, ctx.train.epochs)
        seen["stage_of_epoch"][epoch] = st
        if st == 2 and "start_of_stage2" not in seen:
            seen["start_of_stage2"] = _state(m)
        return orig_loss(batch, ctx, epoch)

    calls = {"s1": 0}

    def stage1_loss(batch):
        calls["s1"] += 1
        return orig_s1(batch)

    monkeypatch.setattr(m, "on_stage_start", on_stage_start)
    monkeypatch.setattr(m, "training_loss", training_loss)
    monkeypatch.setattr(m, "stage1_loss", stage1_loss)
    res = fit(m, _ctx(cls_ds))
    assert seen["stages"] == [1, 2]
    assert seen["stage_of_epoch"] == {0: 1, 1: 1, 2: 2, 3: 2}
    assert calls["s1"] > 0
    s1 = seen["end_of_stage1"]
    # stage 1 trained the encoders and unimodal heads ...
    for k in init:
        if k.startswith(("encoders.", "uni_heads.")) and init[k].is_floating_point():
            assert not torch.equal(s1[k], init[k]), k
    # ... but not the fusion, head or decoder (unused in stage 1)
    for k in init:
        if k.startswith(("fuse.", "head.", "decoder.")):
            assert torch.equal(s1[k], init[k]), k
    # stage 2 starts from exactly those weights, on the same modules: nothing re-initialised
    for k in s1:
        assert torch.equal(seen["start_of_stage2"][k], s1[k]), k
    assert {name: id(mod) for name, mod in m.named_modules()} == modules
    # best epoch is a stage-2 epoch and the final state is one of stage 2
    assert res.best_epoch in (2, 3)
    assert any(not torch.equal(m.state_dict()[k], s1[k]) for k in s1 if k.startswith("head."))


def test_single_stage_backbone_skips_stage1(cls_ds, monkeypatch):
    m = _model(cls_ds, stage1_fraction=0.0)
    stages = []
    monkeypatch.setattr(m, "on_stage_start", lambda stage, ctx: stages.append(stage))
    monkeypatch.setattr(m, "stage1_loss", lambda batch: pytest.fail("stage 1 ran"))
    fit(m, _ctx(cls_ds, epochs=2))
    assert stages == [2]


def test_stage2_training_sees_the_condition(cls_ds, monkeypatch):
    m = _model(cls_ds)
    seen = []
    orig = Backbone.stage2_loss

    def stage2_loss(batch):
        seen.append(batch)
        return orig(m, batch)

    monkeypatch.setattr(m, "stage2_loss", stage2_loss)
    fit(m, _ctx(cls_ds, condition="tv", epochs=2))
    assert seen
    for b in seen:
        assert not b.avail[..., 0].any() and (b.x["a"] == 0).all()
        assert torch.equal(b.avail[..., 1:], b.avail_full[..., 1:] & b.valid.unsqueeze(-1))
        assert torch.equal(b.x_full["a"][b.valid], torch.as_tensor(cls_ds.features["a"])[b.idx[b.valid]])
