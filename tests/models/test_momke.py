import json

import pytest
import torch
from omegaconf import OmegaConf

from hardymer.config import TrainConfig, load_config
from hardymer.data import GroupBatcher, create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import MethodSpec, create_method
from hardymer.models.backbone import Backbone
from hardymer.models.context import FitContext
from hardymer.training.checkpoint import load_checkpoint, save_checkpoint
from hardymer.training.run import run_experiment
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import fit, predict

SMALL = dict(hidden=32, depth=1, decoder_hidden=64)


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=0)


def _make(ds):
    torch.manual_seed(0)
    return create_method("momke", MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), **SMALL)


def _ctx(ds, epochs=4):
    tc = OmegaConf.structured(TrainConfig(epochs=epochs, patience=0, batch_size=8))
    return FitContext(
        ds=ds,
        fold=ds.folds[0],
        conditions=FixedCondition("at"),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )


def test_router_only_in_stage2(ds, monkeypatch):
    m = _make(ds)
    assert not m.use_router
    init = {k: v.clone() for k, v in m.state_dict().items()}
    use_by_epoch: dict = {}
    router_calls = {1: 0, 2: 0}
    orig_loss = m.training_loss
    orig_start = m.on_stage_start
    snap = {}

    def training_loss(batch, ctx, epoch):
        use_by_epoch.setdefault(epoch, m.use_router)
        return orig_loss(batch, ctx, epoch)

    def on_stage_start(stage, ctx):
        if stage == 2:
            snap.update({k: v.clone() for k, v in m.state_dict().items()})
        orig_start(stage, ctx)

    monkeypatch.setattr(m, "training_loss", training_loss)
    monkeypatch.setattr(m, "on_stage_start", on_stage_start)
    hooks = [
        r.register_forward_hook(
            lambda *a: router_calls.__setitem__(1 + m.use_router, router_calls[1 + m.use_router] + 1)
        )
        for r in m.routers.values()
    ]
    fit(m, _ctx(ds))
    for h in hooks:
        h.remove()
    assert use_by_epoch == {0: False, 1: False, 2: True, 3: True}
    assert router_calls[1] == 0 and router_calls[2] > 0
    # routers untouched by stage 1 (no gradient), trained in stage 2
    for k in init:
        if k.startswith("routers."):
            assert torch.equal(snap[k], init[k]), k
            if not k.startswith("routers.v."):  # video is missing under 'at': its router has no effect
                assert not torch.equal(m.state_dict()[k], init[k]), k
    assert m.use_router


def test_router_changes_outputs_and_masks(ds):
    m = _make(ds).eval()
    b = next(iter(GroupBatcher(ds, ds.folds[0].train, batch_size=4))).with_condition("a")
    with torch.no_grad():
        plain = m(b)
        m.use_router = True
        routed = m.forward_all(b)
    assert not torch.allclose(plain, routed["out"])
    assert (routed["enc"]["t"] == 0).all() and (routed["enc"]["v"] == 0).all()


def test_checkpoint_reloads_with_identical_predictions(ds, tmp_path):
    m = _make(ds)
    ctx = _ctx(ds, epochs=2)
    fit(m, ctx)
    path = tmp_path / "m.pt"
    save_checkpoint(path, m, "momke", standardizer=None, config={}, dataset={})
    m2, ckpt = load_checkpoint(path)
    assert type(m2).__name__ == "MoMKE" and m2.use_router and not m2.training
    for c in ("at", "a", "atv"):
        out1, y1, i1 = predict(m, ctx.batcher("test"), c)
        out2, y2, i2 = predict(m2, ctx.batcher("test"), c)
        assert (out1 == out2).all() and (i1 == i2).all()
    # a backbone with the same weights but no router predicts differently: the router matters
    bb = Backbone(m.spec, m.config)
    bb.load_state_dict({k: v for k, v in ckpt["state_dict"].items() if not k.startswith("routers.")})
    assert not (predict(bb, ctx.batcher("test"), "at")[0] == predict(m, ctx.batcher("test"), "at")[0]).all()


def test_run_experiment_checkpoint_reproduces_metrics(ds, tmp_path):
    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 0}},
            "method": {"name": "momke", "options": SMALL},
            "condition": "at",
            "cache_dir": None,
            "train": {"epochs": 4, "patience": 0},
            "out": str(tmp_path / "run"),
        }
    )
    metrics = run_experiment(cfg, ds=ds)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["method"] == "momke"
    for split in ("val", "test"):
        res = evaluate_checkpoint(tmp_path / "run" / "checkpoint.pt", ["at"], split=split)
        for k, v in metrics[split].items():
            assert res["at"][k] == pytest.approx(v, abs=1e-6)
