"""train.precision: bf16 autocast for forward passes, fp32 master weights and losses; CUDA checks."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from hardymer.config import TrainConfig, load_config
from hardymer.data import Standardizer, create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.errors import ConfigError
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.training.precision import autocast, precision_of
from hardymer.training.run import run_experiment
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import make_optimizer, predict, train_epoch

SMALL = {"hidden": 32, "depth": 1, "decoder_hidden": 64}


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=0)


def _ctx(ds, device: str, precision: str, epochs: int = 2) -> FitContext:
    dsi = Standardizer.fit(ds, ds.folds[0].train).transform(ds)
    tc = OmegaConf.structured(TrainConfig(epochs=epochs, patience=0, precision=precision, device=device))
    return FitContext(
        ds=dsi,
        fold=dsi.folds[0],
        conditions=FixedCondition("a"),
        train=tc,
        seed=0,
        device=torch.device(device),
        teacher_provider=load_or_fit_teacher,
    )


def _method(ds, name="backbone"):
    torch.manual_seed(0)
    return create_method(name, MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), **SMALL)


def test_precision_values():
    assert precision_of(OmegaConf.structured(TrainConfig())) == "fp32"
    with pytest.raises(ConfigError, match="train.precision"):
        precision_of(OmegaConf.structured(TrainConfig(precision="fp16")))
    with autocast(OmegaConf.structured(TrainConfig(precision="bf16")), torch.device("cpu")):
        y = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    assert y.dtype == torch.bfloat16


def test_config_rejects_unknown_precision(tmp_path):
    cfg = load_config({"train": {"precision": "fp16"}, "out": str(tmp_path / "r")})
    with pytest.raises(ConfigError, match="precision"):
        run_experiment(cfg)


def _step(ds, device: str, precision: str, name: str = "backbone") -> tuple[list[float], torch.nn.Module]:
    ctx = _ctx(ds, device, precision)
    m = _method(ds, name).to(ctx.device)
    m.prepare(ctx)
    opt = make_optimizer(m, ctx.train)
    losses = train_epoch(m, ctx.batcher("train", shuffle=True), ctx, opt, epoch=1)  # epoch 1: stage 2
    return losses, m


@pytest.mark.parametrize("name", ["backbone", "hardymer"])
def test_bf16_epoch_keeps_fp32_weights_and_losses(ds, name):
    l32, _m32 = _step(ds, "cpu", "fp32", name)
    l16, m16 = _step(ds, "cpu", "bf16", name)
    assert all(math.isfinite(x) for x in l16) and len(l16) == len(l32)
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    # the same computation in lower precision: close, not equal
    assert l16 != l32 and l16[0] == pytest.approx(l32[0], rel=0.05)


def test_bf16_run_end_to_end(tmp_path, ds, tiny_config):
    cfg = tiny_config(
        tmp_path / "r",
        epochs=2,
        data_seed=0,
        method="hardymer",
        method_options={**SMALL, "critic_epochs": 3},
        condition="at",
        cache_dir=None,
        train={"precision": "bf16"},
    )
    m = run_experiment(cfg, ds=ds)
    assert 0.0 <= m["test"]["wa"] <= 100.0 and math.isfinite(m["val"]["ua"])
    # the checkpoint evaluates in the precision of its run: the reported metrics again
    res = evaluate_checkpoint(tmp_path / "r" / "checkpoint.pt", ["at"], split="test")
    for k, v in m["test"].items():
        assert res["at"][k] == pytest.approx(v, abs=1e-6)


# ------------------------------------------------------------------ CUDA (skipped without a GPU)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name", ["backbone", "hardymer"])
def test_cuda_training_epoch(ds, precision, name):
    losses, m = _step(ds, "cuda", precision, name)
    assert losses and all(math.isfinite(x) for x in losses)
    assert all(p.is_cuda and p.dtype == torch.float32 for p in m.parameters())


@pytest.mark.cuda
@cuda
def test_cuda_predict_equals_cpu(ds):
    ctx_cpu = _ctx(ds, "cpu", "fp32")
    m = _method(ds).eval()
    out_cpu, y_cpu, idx_cpu = predict(m, ctx_cpu.batcher("test"), "at")
    ctx_gpu = _ctx(ds, "cuda", "fp32")
    out_gpu, y_gpu, idx_gpu = predict(m.to("cuda"), ctx_gpu.batcher("test"), "at")
    assert (idx_cpu == idx_gpu).all() and (y_cpu == y_gpu).all()
    assert abs(out_cpu - out_gpu).max() < 1e-4


@pytest.mark.cuda
@cuda
def test_cuda_run_end_to_end_bf16(tmp_path, ds, tiny_config):
    cfg = tiny_config(
        tmp_path / "r",
        epochs=4,
        data_seed=0,
        method="hardymer",
        method_options={**SMALL, "critic_epochs": 3},
        condition="a",
        cache_dir=str(tmp_path / "c"),
        train={"precision": "bf16", "device": "cuda"},
    )
    first = run_experiment(cfg, ds=ds)
    cfg.out, cfg.condition = str(tmp_path / "r2"), "t"
    second = run_experiment(cfg, ds=ds)
    assert not first["stage1_shared"] and second["stage1_shared"]


def test_cpu_bf16_context_uses_the_math_attention_kernel_and_is_reusable():
    """Under CPU bf16, attention without dropout takes the math kernel (the fused CPU kernel is
    slower in bf16 at these lengths); the context can be entered again and again; fp32 is inert."""
    from torch.profiler import ProfilerActivity, profile

    cfg = TrainConfig(precision="bf16")
    amp = autocast(cfg, torch.device("cpu"))
    q = torch.randn(2, 2, 7, 16)
    for _ in range(2):  # sequential reuse, as the trainer does per forward
        with profile(activities=[ProfilerActivity.CPU]) as prof, amp:
            out = torch.nn.functional.scaled_dot_product_attention(q, q, q)
            assert torch.is_autocast_enabled("cpu")
        names = {e.key for e in prof.key_averages()}
        assert out.dtype == torch.bfloat16
        assert not any("flash" in n for n in names) and any(
            "_scaled_dot_product_attention_math" in n or "bmm" in n for n in names
        ), sorted(names)
    assert not torch.is_autocast_enabled("cpu")
    with autocast(TrainConfig(), torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")


def test_slow_bf16_warning_names_the_cpu_and_the_fix(monkeypatch):
    from hardymer.training import precision

    bf16 = OmegaConf.structured(TrainConfig(precision="bf16"))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    msg = precision.slow_bf16_warning(bf16, torch.device("cpu"))
    assert msg is not None and "emulated" in msg and "train.precision=fp32" in msg
    assert precision.slow_bf16_warning(OmegaConf.structured(TrainConfig()), torch.device("cpu")) is None
    assert precision.slow_bf16_warning(bf16, torch.device("cuda")) is None
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.slow_bf16_warning(bf16, torch.device("cpu")) is None
    monkeypatch.undo()
    assert isinstance(precision.cpu_has_native_bf16(), bool)  # the real probe answers on any machine
