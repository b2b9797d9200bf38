"""Model-batched training (training.members, models.stacked, optim.StackedAdam): the conditions of
one backbone seed trained as one network give what training them one by one gives (dropout off),
fall back run by run where batching cannot apply, and write the same run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from typer.testing import CliRunner

from hardymer.bench.grid import is_done, plan_grid, plan_jobs, run_grid
from hardymer.cli import app
from hardymer.config import TrainConfig, config_hash, load_config
from hardymer.data import Standardizer, create_dataset
from hardymer.data.protocol import FixedCondition, RandomConditions
from hardymer.errors import ConfigError
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.models.stacked import StackedBackbone
from hardymer.optim import Adam, StackedAdam
from hardymer.training.members import batching_obstacle, fit_members, rng_state
from hardymer.training.run import run_experiment
from hardymer.training.trainer import fit

SMALL = {"hidden": 32, "depth": 1, "decoder_hidden": 64, "dropout": 0.0}
CONDS = ["a", "at", "tv", "atv"]


@pytest.fixture(scope="module", params=["classification", "regression"])
def ds(request):
    raw = create_dataset("synthetic", size="tiny", seed=0, task=request.param)
    return Standardizer.fit(raw, raw.folds[0].train).transform(raw)


def _ctx(ds, cond: str, patience: int = 0, epochs: int = 6, device: str = "cpu", **train) -> FitContext:
    tc = OmegaConf.structured(TrainConfig(epochs=epochs, patience=patience, device=device, **train))
    return FitContext(
        ds=ds, fold=ds.folds[0], conditions=FixedCondition(cond), train=tc, seed=0, device=torch.device(device)
    )


def _method(ds, name: str = "backbone", **options):
    torch.manual_seed(0)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    return create_method(name, spec, **{**SMALL, **options})


def _max_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(
        float((x - y).abs().max()) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_stacked_losses_and_gradients_equal_each_members_own(ds):
    members = [_method(ds) for _ in CONDS]
    for i, m in enumerate(members):  # different weights per member
        torch.manual_seed(10 + i)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.05 * torch.randn_like(p))
    stack = StackedBackbone(members).eval()
    ctxs = [_ctx(ds, c) for c in CONDS]
    batch = next(iter(ctxs[0].batcher("train", shuffle=True)))
    avail = torch.stack([c.conditions.sample(batch) & batch.avail_full & batch.valid.unsqueeze(-1) for c in ctxs])
    losses, used = stack.losses(batch, avail)
    losses.sum().backward()
    for i, (m, c) in enumerate(zip(members, ctxs, strict=True)):
        m.eval().zero_grad()
        ref = m.stage2_loss(batch.with_availability(c.conditions.sample(batch)))
        ref.backward()
        assert float(losses[i].detach()) == pytest.approx(float(ref.detach()), abs=1e-5)
        for name in stack.names:
            g = m.get_parameter(name).grad
            sg = stack.to_member_layout(name, stack.param(name).grad[i])
            if g is None:  # a run without the modality: no gradient there, and the stack's is 0
                assert float(sg.abs().max()) == 0.0, name
                assert not any(name.startswith(p) and bool(u[i]) for p, u in used.items()), name
            else:
                torch.testing.assert_close(sg, g, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize(
    "patience,device",
    [
        (0, "cpu"),
        (1, "cpu"),
        pytest.param(
            1,
            "cuda",
            marks=[
                pytest.mark.cuda,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
            ],
        ),
    ],
)
def test_fit_members_equals_fitting_each_condition_without_dropout(ds, patience, device):
    separate = []
    for c in CONDS:
        m = _method(ds)
        separate.append((m, fit(m, _ctx(ds, c, patience, device=device))))
    members = [_method(ds) for _ in CONDS]
    results = fit_members(members, [_ctx(ds, c, patience, device=device) for c in CONDS])
    for (m, r), mb, rb in zip(separate, members, results, strict=True):
        assert rb.best_epoch == r.best_epoch and rb.stage2_epochs == r.stage2_epochs
        assert rb.stage2_steps_total == r.stage2_steps_total and rb.stage1_epochs == r.stage1_epochs
        assert _max_diff(m, mb) < 1e-4  # the selected state: parameters after the same steps
        for k, v in r.test.items():
            assert rb.test[k] == pytest.approx(v, abs=1e-3)
        assert rb.batched == {"members": len(CONDS), "conditions": CONDS}
        assert [h["epoch"] for h in rb.history] == [h["epoch"] for h in r.history]
    if patience:  # members stopped at different epochs: the stack shrank on the way
        assert len({r.stage2_epochs for r in results}) > 1


@pytest.mark.parametrize("protocol", ["fixed", "unified"])
def test_fit_members_over_seeds_equals_each_run_without_dropout(ds, protocol):
    """Members of two seeds (own weights, stage 1 and batch order; batches padded to one shape)."""
    runs = [("a", 0), ("atv", 0), ("a", 1), ("tv", 1)] if protocol == "fixed" else [("all", 0), ("all", 1)]

    def ctx(cond: str, seed: int) -> FitContext:
        c = _ctx(ds, "atv" if cond == "all" else cond, patience=1)
        if cond == "all":
            c.conditions = RandomConditions(seed=seed)
        c.seed = seed
        return c

    def method(seed: int):
        torch.manual_seed(seed)
        spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
        return create_method("backbone", spec, **SMALL)

    separate = []
    for cond, seed in runs:
        m = method(seed)
        separate.append((m, fit(m, ctx(cond, seed))))
    members, states = [], []
    for _, seed in runs:
        members.append(method(seed))
        states.append(rng_state(torch.device("cpu")))
    results = fit_members(members, [ctx(c, s) for c, s in runs], rng_states=states)
    for (m, r), mb, rb in zip(separate, members, results, strict=True):
        assert rb.best_epoch == r.best_epoch and rb.stage2_steps_total == r.stage2_steps_total
        assert _max_diff(m, mb) < 1e-4
        for k, v in r.test.get("mean", r.test).items():
            assert rb.test.get("mean", rb.test)[k] == pytest.approx(v, abs=1e-3)
        assert rb.batched is not None and rb.batched["seeds"] == [s for _, s in runs]
    with pytest.raises(ValueError, match="rng_states"):
        fit_members([method(0), method(1)], [ctx("a", 0), ctx("a", 1)])


def test_hardymer_students_model_batched_equal_their_own_fits_without_dropout(ds):
    """Each member's K+1 views (its own condition's neighbours) stacked per member; teachers trained
    in each member's prepare on the stream its own fit would use."""
    from hardymer.training.teacher import load_or_fit_teacher

    conds = ["a", "at", "atv"]
    opts = {"K": 2, "neighbours": "random"}

    def ctx(cond: str) -> FitContext:
        c = _ctx(ds, cond, epochs=4)
        c.teacher_provider = load_or_fit_teacher
        return c

    separate = []
    for cond in conds:
        m = _method(ds, "hardymer", **opts)
        separate.append((m, fit(m, ctx(cond))))
    members, states = [], []
    for _ in conds:
        members.append(_method(ds, "hardymer", **opts))
        states.append(rng_state(torch.device("cpu")))
    results = fit_members(members, [ctx(c) for c in conds], rng_states=states)
    for (m, r), mb, rb in zip(separate, members, results, strict=True):
        assert rb.best_epoch == r.best_epoch and rb.stage2_steps_total == r.stage2_steps_total
        assert _max_diff(m, mb) < 1e-4
        assert torch.equal(m.views, mb.views)  # the same curriculum (teacher, hardness, neighbours)


def test_stacked_adam_is_each_members_adam_and_leaves_masked_members_alone():
    torch.manual_seed(0)
    rows = [torch.randn(3, 4) for _ in range(3)]
    own = [torch.nn.Parameter(r.clone()) for r in rows]
    opts = [Adam([p], lr=0.01, weight_decay=0.1, decoupled=True) for p in own]
    stacked = torch.nn.Parameter(torch.stack(rows))
    sopt = StackedAdam({"w": stacked}, lr=0.01, weight_decay=0.1, decoupled=True)
    masks = [torch.tensor([True, True, True]), torch.tensor([True, False, True]), torch.tensor([False, True, True])]
    for step, mask in enumerate(masks):
        grads = torch.randn(3, 3, 4)
        stacked.grad = grads.clone()
        before = stacked.detach().clone()
        sopt.step({"w": mask})
        for i in range(3):
            if mask[i]:
                own[i].grad = grads[i].clone()
                opts[i].step()
            else:
                assert torch.equal(stacked[i], before[i]), (step, i)
            torch.testing.assert_close(stacked.detach()[i], own[i].detach(), atol=1e-6, rtol=1e-5)
    assert sopt.state["w"]["step"].tolist() == [2.0, 2.0, 3.0]
    sub = sopt.select({"w": torch.nn.Parameter(stacked.detach()[[0, 2]].clone())}, [0, 2])
    assert sub.state["w"]["step"].tolist() == [2.0, 3.0]
    torch.testing.assert_close(sub.state["w"]["exp_avg"][1], opts[2].state[own[2]]["exp_avg"], atol=1e-6, rtol=1e-5)
    st = sopt.member_state("w", 1)
    assert st is not None and float(st["step"]) == float(opts[1].state[own[1]]["step"])


def test_batching_obstacles_name_the_reason(ds):
    two = [_ctx(ds, "a"), _ctx(ds, "at")]
    assert batching_obstacle([_method(ds), _method(ds)], two) is None
    assert "ZeroFill has no model-batched form" in batching_obstacle(
        [create_method("zero-fill", MethodSpec(ds.dims, ds.output_dim, ds.task))] * 2, two
    )
    hm = create_method("hardymer", MethodSpec(ds.dims, ds.output_dim, ds.task), hidden=16, depth=1)
    assert "different methods" in batching_obstacle([_method(ds), hm], two)
    seq = create_method("hardymer", MethodSpec(ds.dims, ds.output_dim, ds.task), view_steps="sequential")
    assert "sequential" in batching_obstacle([seq, seq], two)
    assert "configs differ" in batching_obstacle([_method(ds), _method(ds, dropout=0.1)], two)
    rnd = _ctx(ds, "a")
    rnd.conditions = RandomConditions(seed=0)
    assert "protocols differ" in batching_obstacle([_method(ds), _method(ds)], [rnd, _ctx(ds, "at")])
    assert "training configs differ" in batching_obstacle(
        [_method(ds)] * 2, [_ctx(ds, "a", precision="bf16"), _ctx(ds, "at")]
    )
    assert "same condition and seed" in batching_obstacle([_method(ds)] * 2, [_ctx(ds, "a"), _ctx(ds, "a")])
    other_seed = _ctx(ds, "a")
    other_seed.seed = 1
    assert batching_obstacle([_method(ds)] * 2, [_ctx(ds, "a"), other_seed]) is None
    with pytest.raises(ValueError, match="cannot be trained as one model"):
        fit_members([_method(ds), _method(ds)], [_ctx(ds, "a"), _ctx(ds, "a")])


# ------------------------------------------------------------------ bench / train / config
def _tiny(out: Path, method: str, members: int) -> dict:
    return {
        "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 3}},
        "method": {"name": method, "options": {"hidden": 16} if method != "zero-fill" else {}},
        "train": {"epochs": 4, "patience": 0, "batch_members": members},
        "cache_dir": str(out / ".cache"),
    }


def test_bench_batches_backbone_conditions_and_writes_the_same_run_folders(tmp_path, caplog):
    specs = []
    for method in ("backbone", "zero-fill"):
        base = load_config(_tiny(tmp_path, method, 3))
        specs += plan_grid(base, [method], ["a", "tv", "atv"], [0, 1], ["0"], tmp_path / "b")
    jobs = plan_jobs(specs)
    assert sorted(len(j) for j in jobs) == [1] * 6 + [3, 3]  # backbone: one group per seed
    assert all({s.seed for s in j} == {j[0].seed} for j in jobs)
    with caplog.at_level("INFO", logger="hardymer"):
        run_grid(specs)
    assert "zero-fill trained run by run" in caplog.text
    assert "6 runs in 2 model-batched groups" in caplog.text
    for s in specs:
        m = json.loads((Path(s.out) / "metrics.json").read_text())
        assert ("batched" in m) == (s.method == "backbone")
        assert is_done(s)
    ref = load_config({**_tiny(tmp_path, "backbone", 1), "condition": "tv", "out": str(tmp_path / "sep")})
    run_experiment(ref)
    batched = next(s for s in specs if s.method == "backbone" and s.condition == "tv" and s.seed == 0)
    assert sorted(p.name for p in Path(batched.out).iterdir() if p.name != ".lock") == sorted(
        p.name for p in (tmp_path / "sep").iterdir()
    )
    # the checkpoint of a batched run evaluates to its reported metrics
    m = json.loads((Path(batched.out) / "metrics.json").read_text())
    res = evaluate_checkpoint(Path(batched.out) / "checkpoint.pt", ["tv"], split="test")
    for k, v in m["test"].items():
        assert res["tv"][k] == pytest.approx(v, abs=1e-6)
    # batch_members enters the hash of batched runs only
    sep_cfg = load_config({**_tiny(tmp_path, "backbone", 1), "condition": "tv"})
    assert m["config_hash"] != config_hash(sep_cfg)
    zf = next(s for s in specs if s.method == "zero-fill")
    zf1 = load_config({**_tiny(tmp_path, "zero-fill", 1), "condition": zf.condition})
    assert json.loads((Path(zf.out) / "metrics.json").read_text())["config_hash"] == config_hash(zf1)


def _train_backbone(out: Path, *members: str) -> None:
    """``hardymer train`` of a tiny backbone, conditions a and atv, seeds 0 and 1, into ``out``."""
    r = CliRunner().invoke(
        app,
        ["train", "--method", "backbone", "--data-opt", "size=tiny", "--conditions", "a,atv", "--seeds", "0,1"]
        + ["--epochs", "4", "--out", str(out), "--set", "method.options.hidden=16", *members],
    )
    assert r.exit_code == 0, r.output


def test_train_cli_batches_conditions_of_each_seed(tmp_path):
    out = tmp_path / "t"
    _train_backbone(out, "--batch-members", "2")
    for c in ("a", "atv"):
        for s in (0, 1):
            m = json.loads((out / c / f"seed{s}" / "metrics.json").read_text())
            assert m["batched"] == {"members": 2, "conditions": ["a", "atv"]} and m["seed"] == s
            assert (out / c / f"seed{s}" / "log.txt").read_text().count("model-batched") >= 1
    # both seeds in one group: each seed's own stage 1 and batch order, batches padded to one shape
    out4 = tmp_path / "t4"
    _train_backbone(out4, "--set", "train.batch_members=4")
    m = json.loads((out4 / "atv" / "seed1" / "metrics.json").read_text())
    assert m["batched"] == {"members": 4, "conditions": ["a", "atv", "a", "atv"], "seeds": [0, 0, 1, 1]}
    assert m["stage1_epochs"] == 2 and m["stage2_epochs"] == 2


def test_batch_members_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="batch_members"):
        run_experiment(load_config({**_tiny(tmp_path, "backbone", 0), "out": str(tmp_path / "r")}))
    r = CliRunner().invoke(
        app, ["bench", "--data-opt", "size=tiny", "--out", str(tmp_path / "b"), "--batch-members", "0"]
    )
    assert r.exit_code != 0 and "batch_members" in r.output and "Traceback" not in r.output


def test_hardymer_teachers_trained_model_batched_equal_their_own_fits_without_dropout(tmp_path):
    from hardymer.training.run import setup_run
    from hardymer.training.teacher import fit_teacher, prefit_teachers, teacher_cache_key

    def cfgs(members: int) -> list:
        base = _tiny(tmp_path, "hardymer", members)
        base["method"]["options"] = {"hidden": 16, "dropout": 0.0, "K": 2}
        return [load_config({**base, "condition": c, "out": str(tmp_path / c)}) for c in ("a", "at", "atv")]

    setups = [setup_run(c) for c in cfgs(3)]
    assert prefit_teachers([s.method for s in setups], [s.ctx for s in setups]) == 2  # atv needs none
    assert prefit_teachers([s.method for s in setups], [s.ctx for s in setups]) == 0  # cached now
    for cfg in cfgs(3)[:2]:
        s = setup_run(cfg)  # the stream state a run's own teacher starts from
        m = s.method
        own, _ = fit_teacher(m.spec, m.teacher_config(), s.ctx, m.config.teacher_epochs)
        key = teacher_cache_key(s.ctx, m.teacher_config(), m.config.teacher_epochs)
        cached = torch.load(tmp_path / ".cache" / f"teacher-{key}.pt", weights_only=True)
        worst = max(float((v - cached[k]).abs().max()) for k, v in own.state_dict().items())
        assert worst < 1e-4
    # runs that are not batched keep their own teacher cache (batch_members is part of its key)
    one = setup_run(cfgs(1)[0])
    assert teacher_cache_key(one.ctx, one.method.teacher_config()) != teacher_cache_key(
        setups[0].ctx, setups[0].method.teacher_config()
    )


def test_fit_members_in_bf16_stays_close_to_fp32_and_keeps_fp32_weights(ds):
    fp32 = fit_members([_method(ds) for _ in CONDS], [_ctx(ds, c, epochs=4) for c in CONDS])
    members = [_method(ds) for _ in CONDS]
    bf16 = fit_members(members, [_ctx(ds, c, epochs=4, precision="bf16") for c in CONDS])
    assert all(p.dtype == torch.float32 for m in members for p in m.parameters())
    for a, b in zip(fp32, bf16, strict=True):  # the same computation in lower precision: close, not equal
        losses_a = [h["loss"] for h in a.history if h["stage"] == 2]
        losses_b = [h["loss"] for h in b.history if h["stage"] == 2]
        assert losses_b == pytest.approx(losses_a, rel=0.05)


def test_plan_jobs_fills_groups_seed_by_seed_and_only_for_batched_methods(tmp_path):
    def specs(method: str, members: int, protocol: str = "fixed") -> list:
        base = load_config({**_tiny(tmp_path, method, members), "protocol": protocol})
        conds = ["a", "tv", "atv"] if protocol == "fixed" else ["all"]
        return plan_grid(base, [method], conds, [0, 1], ["0"], tmp_path / f"{method}-{protocol}-{members}")

    jobs = plan_jobs(specs("backbone", 4))
    assert [[(s.condition, s.seed) for s in j] for j in jobs] == [
        [("a", 0), ("tv", 0), ("atv", 0), ("a", 1)],
        [("tv", 1), ("atv", 1)],
    ]
    assert [len(j) for j in plan_jobs(specs("backbone", 7, "unified"))] == [2]  # seeds of the unified model
    assert [len(j) for j in plan_jobs(specs("hardymer", 7, "unified"))] == [2]
    assert [len(j) for j in plan_jobs(specs("zero-fill", 7))] == [1] * 6  # no model-batched form
    assert [len(j) for j in plan_jobs(specs("hardymer", 3))] == [3, 3]
    assert [len(j) for j in plan_jobs(specs("backbone", 1))] == [1] * 6
