"""Equal-budget hyper-parameter search on validation (Optuna: seeded TPE, median pruning).

One study per call (or per condition with ``per_condition``), stored in ``<out>/study.db``
(SQLite) so an interrupted search resumes: finished trials count toward the budget and only the
missing ones run. The objective is the validation selection metric of the trainer (MAE for
regression, WA for classification unless ``train.select_metric`` says otherwise), averaged over
the conditions (fixed protocol) or the six missing conditions (unified, as the trainer selects),
then over the seeds. The test split is never read: every trial run has
``train.evaluate_test=false``.

Outputs in ``out``: ``best.yaml`` (a full run config), ``trials.csv``, ``history.png``,
``tune.json``; trial runs in ``out/trials/<number>/<condition>/seed<S>/`` (no checkpoints).
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omegaconf import OmegaConf

from hardymer._io import atomic_write_json, atomic_write_text
from hardymer.catalog.presets import resolve_method
from hardymer.config import default_config, to_container, to_yaml
from hardymer.errors import ConfigError
from hardymer.evaluation.metrics import LOWER_IS_BETTER, default_select_metric
from hardymer.training.run import load_run_dataset, run_experiment
from hardymer.training.trainer import select_value
from hardymer.tuning.report import write_history_png, write_trials_csv
from hardymer.tuning.space import SearchSpace, build_space

log = logging.getLogger(__name__)

EPOCH_STRIDE = 10_000  # pruning step = run index * EPOCH_STRIDE + epoch
PRUNER: dict[str, Any] = {"name": "MedianPruner", "n_startup_trials": 3, "n_warmup_steps": 2}


@dataclass
class TuneSettings:
    """What to search and with which budget."""

    method: str  # registered method or preset (configs/methods.yaml)
    protocol: str = "fixed"
    conditions: Sequence[str] = field(default_factory=lambda: ["atv"])
    trials: int = 12
    seeds: list[int] = field(default_factory=lambda: [0])
    out: str = "runs/tune"
    per_condition: bool = False
    space_file: str | None = None
    timeout_min: float | None = None
    workers: int = 1
    backend: str = "local"
    ray_address: str | None = None
    sampler_seed: int = 0
    fixed: set[str] = field(default_factory=set)  # keys pinned by the user, not searched


def _finished(study: Any) -> list:
    """Trials that count toward the budget: complete, pruned, or failed inside the objective."""
    from optuna.trial import TrialState

    return [
        t
        for t in study.trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and "error" in t.user_attrs)
    ]


def apply_params(cfg: Any, values: dict[str, Any]) -> Any:
    """A copy of ``cfg`` with ``train.<k>`` / ``method.<option>`` values set."""
    out = copy.deepcopy(cfg)
    for key, v in values.items():
        section, name = key.split(".", 1)
        if section == "train":
            OmegaConf.update(out, f"train.{name}", v, merge=False)
        else:
            OmegaConf.update(out, f"method.options.{name}", v, merge=False)
    return out


class Objective:
    """The validation objective of one study (callable by ``study.optimize``)."""

    def __init__(
        self,
        base: Any,
        space: SearchSpace,
        settings: TuneSettings,
        conditions: list[str],
        out: Path,
        ds: Any,
        metric: str,
    ) -> None:
        self.base, self.space, self.settings, self.conditions = base, space, settings, conditions
        self.out, self.ds, self.metric = out, ds, metric

    def runs(self) -> list[tuple[str, int]]:
        conds = self.conditions if self.settings.protocol == "fixed" else ["all"]
        return [(c, s) for c in conds for s in self.settings.seeds]

    def run_config(self, cfg: Any, trial_no: int, cond: str, seed: int) -> Any:
        rc = copy.deepcopy(cfg)
        rc.condition = str(cond) if cond != "all" else "atv"
        rc.seed = int(seed)
        rc.out = str(self.out / "trials" / str(trial_no) / cond / f"seed{seed}")
        return rc

    def __call__(self, trial: Any) -> float:
        import optuna

        values = self.space.sample(trial)
        cfg = apply_params(self.base, values)
        runs = self.runs()
        t0 = time.perf_counter()
        try:
            if self.settings.workers > 1 or self.settings.backend != "local":
                vals = self._run_grid(cfg, trial.number, runs)
            else:
                vals = []
                for i, (cond, seed) in enumerate(runs):
                    rc = self.run_config(cfg, trial.number, cond, seed)
                    cb = self._epoch_callback(trial, i, vals)
                    m = run_experiment(rc, ds=self.ds, save_checkpoint_file=False, on_epoch=cb)
                    vals.append(select_value(m["val"], self.metric))
                    trial.set_user_attr("runs_done", len(vals))
        except optuna.TrialPruned:
            trial.set_user_attr("seconds", time.perf_counter() - t0)
            raise
        except (FloatingPointError, RuntimeError) as exc:  # diverged or broken config: a failed trial
            trial.set_user_attr("error", repr(exc))
            raise
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        trial.set_user_attr("run_values", vals)
        return float(sum(vals) / len(vals))

    def _epoch_callback(self, trial: Any, run_index: int, done: list[float]):
        """Reports the running objective (finished runs + this run's best so far) per stage-2 epoch."""
        import optuna

        key = f"val_{self.metric}"
        lower = self.metric in LOWER_IS_BETTER
        best: list[float] = []

        def on_epoch(epoch: int, stage: int, record: dict) -> None:
            if key not in record:
                return
            v = float(record[key])
            if v == v and (not best or (v < best[0] if lower else v > best[0])):
                best[:] = [v]
            if not best:
                return
            trial.report((sum(done) + best[0]) / (len(done) + 1), run_index * EPOCH_STRIDE + epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at run {run_index}, epoch {epoch}")

        return on_epoch

    def _run_grid(self, cfg: Any, trial_no: int, runs: list[tuple[str, int]]) -> list[float]:
        """All (condition, seed) runs of a trial through the bench grid (local pool or ray); no pruning."""
        from hardymer.bench.grid import RunSpec, run_grid

        specs = []
        for cond, seed in runs:
            rc = self.run_config(cfg, trial_no, cond, seed)
            specs.append(RunSpec(self.settings.method, cond, str(rc.data.fold), int(seed), rc.out, to_container(rc)))
        metrics = run_grid(
            specs,
            workers=self.settings.workers,
            threads=1,
            backend=self.settings.backend,
            ray_address=self.settings.ray_address,
        )
        for s in specs:
            ck = Path(s.out) / "checkpoint.pt"
            if ck.exists():
                ck.unlink()
        return [select_value(m["val"], self.metric) for m in metrics]


def base_tune_config(cfg: Any, method: str) -> tuple[Any, str]:
    """``cfg`` prepared for tuning ``method`` (method or preset): base method and preset options set,
    selection on validation, test never evaluated. Returns (config, registered method name)."""
    base_method, preset_opts = resolve_method(method)
    out = copy.deepcopy(cfg)
    out.method.name = base_method
    out.method.options = OmegaConf.merge(out.method.options, preset_opts)
    if out.train.select_on != "val":
        raise ConfigError("tune: train.select_on must be val (the search never reads test)")
    out.train.evaluate_test = False
    return out, base_method


def best_config(
    base: Any, params: dict[str, Any], condition: str | Sequence[str] | None, out: str | Path | None = None
) -> Any:
    """The full run config of the best trial: test evaluation back on, the tuned condition(s) (a comma
    list when several: ``hardymer train --config`` trains each) and protocol, and ``out`` (default:
    the default output folder)."""
    cfg = apply_params(base, params)
    cfg.train.evaluate_test = True
    cfg.out = str(out) if out is not None else default_config().out
    names = [condition] if isinstance(condition, str) else list(condition or [])
    names = [str(c) for c in names if c != "all"]
    if names:
        cfg.condition = ",".join(names)
    return cfg


def _tune_study(
    base: Any,
    space: SearchSpace,
    settings: TuneSettings,
    conditions: list[str],
    out: Path,
    ds: Any,
    metric: str,
    deadline: float | None,
) -> dict:
    import optuna

    out.mkdir(parents=True, exist_ok=True)
    direction: Literal["minimize", "maximize"] = "minimize" if metric in LOWER_IS_BETTER else "maximize"
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    sampler = optuna.samplers.TPESampler(seed=settings.sampler_seed)
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER["n_startup_trials"], n_warmup_steps=PRUNER["n_warmup_steps"]
    )
    study = optuna.create_study(
        study_name="hardymer-tune",
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction=direction,
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"{out / 'study.db'}: existing study optimises {study.direction.name.lower()}, "
            f"this search needs {direction}; use another --out"
        )
    before = len(_finished(study))
    missing = max(0, settings.trials - before)
    log.info("study %s: %d trials finished, %d to run", out, before, missing)
    t0, c0 = time.perf_counter(), time.process_time()
    objective = Objective(base, space, settings, conditions, out, ds, metric)
    if missing:
        timeout = None if deadline is None else max(0.0, deadline - time.time())
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study.optimize(objective, n_trials=missing, timeout=timeout, catch=(FloatingPointError, RuntimeError))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finished = _finished(study)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    write_trials_csv(study.trials, out / "trials.csv")
    write_history_png(
        study.trials,
        out / "history.png",
        direction=direction,
        metric=metric,
        method=settings.method,
        conditions=conditions if settings.protocol == "fixed" else "six missing conditions (unified)",
    )
    prev = {}
    if (out / "tune.json").is_file():
        prev = json.loads((out / "tune.json").read_text())
    info: dict[str, Any] = {
        "method": settings.method,
        "base_method": str(base.method.name),
        "dataset": str(base.data.name),
        "protocol": settings.protocol,
        "conditions": conditions if settings.protocol == "fixed" else "six missing conditions (unified)",
        "seeds": list(settings.seeds),
        "trials_requested": settings.trials,
        "trials_finished": len(finished),
        "states": {s: sum(t.state.name == s for t in study.trials) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")},
        "sampler": {"name": "TPESampler", "seed": settings.sampler_seed},
        "pruner": dict(PRUNER),
        "metric": metric,
        "split": "val",
        "direction": direction,
        "search_space": space.as_dict(),
        "fixed_keys": sorted(settings.fixed),
        "best_value": None,
        "best_params": None,
        "best_trial": None,
        "wall_seconds": float(prev.get("wall_seconds", 0.0)) + wall,
        "cpu_seconds": float(prev.get("cpu_seconds", 0.0)) + cpu,
        "trial_seconds": float(sum(t.user_attrs.get("seconds", 0.0) for t in study.trials)),
    }
    if complete:
        best = study.best_trial
        assert best.value is not None  # a complete trial has its value
        params = space_values(space, best.params)
        info.update(best_value=float(best.value), best_params=params, best_trial=best.number)
        cond = conditions if settings.protocol == "fixed" else None
        atomic_write_text(out / "best.yaml", to_yaml(best_config(base, params, cond, out / "train")))
    else:
        log.warning("study %s has no complete trial yet: no best.yaml", out)
    atomic_write_json(out / "tune.json", info)
    return info


def space_values(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """Searched values plus derived (complement) ones."""
    vals = dict(params)
    for p in space.params:
        if p.type == "complement" and p.of in vals:
            vals[p.key] = 1.0 - float(vals[p.of])
    return vals


def tune(cfg: Any, settings: TuneSettings, ds: Any = None) -> dict:
    """Run (or resume) the search described by ``settings`` over the base run config ``cfg``.

    Returns the tune.json content (per-condition: the summary with one entry per condition).
    """
    if settings.protocol not in ("fixed", "unified"):
        hint = (
            " (tuning selects one config over conditions; tune under unified, then bench that config with "
            "--protocol random --missing-rates ...)"
            if settings.protocol == "random"
            else ""
        )
        raise ConfigError(f"--protocol must be fixed or unified, got {settings.protocol!r}{hint}")
    if settings.trials < 1:
        raise ConfigError("--trials must be >= 1")
    if not settings.seeds:
        raise ConfigError("--seeds: give at least one seed")
    if settings.per_condition and settings.protocol != "fixed":
        raise ConfigError("--per-condition needs --protocol fixed")
    base, base_method = base_tune_config(cfg, settings.method)
    base.protocol = settings.protocol
    if ds is None:
        ds = load_run_dataset(base)
    metric = default_select_metric(ds.task) if base.train.select_metric == "auto" else str(base.train.select_metric)
    space = build_space(base_method, ds.task, settings.space_file, fixed=settings.fixed)
    if not space.params:
        raise ConfigError(f"tune: the search space of {base_method} is empty")
    deadline = None if settings.timeout_min is None else time.time() + 60.0 * settings.timeout_min
    out = Path(settings.out)
    if not settings.per_condition:
        return _tune_study(base, space, settings, list(settings.conditions), out, ds, metric, deadline)
    per: dict[str, dict] = {}
    for cond in settings.conditions:
        per[cond] = _tune_study(base, space, settings, [cond], out / cond, ds, metric, deadline)
    summary = {
        "method": settings.method,
        "base_method": base_method,
        "protocol": "fixed",
        "per_condition": True,
        "conditions": list(settings.conditions),
        "seeds": list(settings.seeds),
        "trials_requested": settings.trials,
        "sampler": {"name": "TPESampler", "seed": settings.sampler_seed},
        "metric": metric,
        "split": "val",
        "search_space": space.as_dict(),
        "wall_seconds": sum(v["wall_seconds"] for v in per.values()),
        "cpu_seconds": sum(v["cpu_seconds"] for v in per.values()),
        "studies": {
            c: {k: v[k] for k in ("trials_finished", "states", "best_value", "best_params", "best_trial")}
            | {"best_yaml": f"{c}/best.yaml"}
            for c, v in per.items()
        },
    }
    atomic_write_json(out / "summary.json", summary)
    atomic_write_json(out / "tune.json", summary)
    return summary


def remove_trial_runs(out: str | Path) -> None:
    """Delete the trial run folders of a search (``out/trials``), keeping the study and results."""
    p = Path(out) / "trials"
    if p.is_dir():
        shutil.rmtree(p)
