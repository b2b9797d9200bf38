"""The speed benchmark (benchmarks/bench_speed.py) and its stage-2 loop in the release's shape."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from hardymer.conditions import MODALITIES
from hardymer.config import TrainConfig
from hardymer.data import Standardizer, create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.hardness.mi import train_pair_critics
from hardymer.models import MethodSpec, create_method
from hardymer.models.backbone import Backbone, BackboneConfig
from hardymer.models.context import FitContext
from hardymer.retrieval.index import build_indexes
from hardymer.training.teacher import load_or_fit_teacher

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_speed.py"
sys.path.insert(0, str(REPO / "benchmarks"))
from _lib.release_loop import PARTS, release_style_stage2_epoch


def _positive(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_quick_benchmark_writes_expected_json(tmp_path):
    # one thread: ~5 s on 2 cores even when the machine is shared (spinning OpenMP threads are not)
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ratio release-style / ours" in proc.stdout
    res = json.loads(out.read_text())
    assert {"machine", "config", "teacher", "student", "stage2_comparison", "memory", "loadavg"} <= set(res)
    assert res["machine"]["torch_threads"] == 1 and res["machine"]["cpu_count"] >= 1
    assert res["config"]["condition"] == "a" and res["config"]["quick"]
    t, s, c = res["teacher"], res["student"], res["stage2_comparison"]
    for d in (t, s):
        assert d["stage1_epochs"] == 2 and d["stage2_epochs"] == 2
        assert _positive(d["stage1_s_per_epoch"]) and _positive(d["stage2_s_per_epoch"])
    assert _positive(t["train_seconds"])
    prep = s["prepare_seconds"]
    for k in ("teacher_training", "critic_training", "hardness_and_retrieval", "total"):
        assert _positive(prep[k]), k
    assert prep["total"] >= prep["teacher_training"] + prep["critic_training"]
    assert _positive(s["total_seconds_per_condition"])
    assert s["total_seconds_per_condition"] > prep["total"]
    for arm in ("ours", "release_style"):
        assert _positive(c[arm]["s_per_epoch"]) and len(c[arm]["epoch_seconds"]) == c["epochs"] == 1
        assert set(c[arm]["val_final"]) == {"wa"}  # tiny synthetic is a classification task
    assert c["release_style"]["optimizer_steps_per_epoch"] == 4 * c["ours"]["optimizer_steps_per_epoch"]
    assert set(c["release_style"]["parts_s_per_epoch"]) == set(PARTS)
    assert _positive(c["ratio_release_over_ours"])
    assert _positive(res["memory"]["peak_rss_mb"])


@pytest.fixture(scope="module")
def tiny_setup():
    ds = create_dataset("synthetic", size="tiny", task="regression", seed=1)
    fold = ds.folds[0]
    ds = Standardizer.fit(ds, fold.train).transform(ds)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    torch.manual_seed(0)
    student = create_method("hardymer", spec, hidden=16, decoder_hidden=32, K=3)
    teacher = Backbone(spec, BackboneConfig(hidden=16, decoder_hidden=32)).eval().requires_grad_(False)
    critics = train_pair_critics({m: ds.features[m][fold.train] for m in MODALITIES}, epochs=1)
    indexes = build_indexes(ds, fold.train)
    train = OmegaConf.structured(TrainConfig(epochs=2, batch_size=4))
    ctx = FitContext(
        ds=ds,
        fold=fold,
        conditions=FixedCondition("a"),
        train=train,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    return student, teacher, critics, indexes, ctx


def test_release_style_epoch_takes_k_plus_1_steps_per_batch(tiny_setup):
    student, teacher, critics, indexes, ctx = tiny_setup
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3)
    steps = []
    opt.register_step_post_hook(lambda o, a, kw: steps.append(1))
    before = {k: v.clone() for k, v in student.state_dict().items()}
    timings: dict = {}
    n_batches = len(ctx.batcher("train"))
    seconds, loss = release_style_stage2_epoch(student, teacher, critics, indexes, ctx, opt, "a", timings=timings)
    assert seconds > 0 and np.isfinite(loss)
    assert len(steps) == n_batches * (student.config.K + 1)
    assert set(timings) == set(PARTS) and all(v >= 0 for v in timings.values())
    assert timings["steps"] > 0
    assert any(not torch.equal(before[k], v) for k, v in student.state_dict().items())


def test_release_style_epoch_other_mapping_and_merge(tiny_setup):
    student, teacher, critics, indexes, ctx = tiny_setup
    opt = torch.optim.SGD(student.parameters(), lr=1e-3)
    batches = list(ctx.batcher("train", shuffle=True))[:1]
    seconds, loss = release_style_stage2_epoch(
        student, teacher, None, indexes, ctx, opt, "at", batches=batches, mapping="rank", merge="fused"
    )
    assert seconds > 0 and np.isfinite(loss)
