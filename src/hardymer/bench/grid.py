"""The benchmark grid: methods × conditions × seeds × folds, resumable, in parallel.

Each run lives in ``out/<method>/<condition>/<fold>/seed<seed>/``. A run whose ``metrics.json``
exists and carries the same ``config_hash`` is skipped; anything else is (re)done. Outputs are
written atomically and ``metrics.json`` last, so a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from hardymer.catalog.presets import resolve_method
from hardymer.config import batches_method, config_hash, set_run_condition, to_container
from hardymer.models import method_config_class

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    method: str  # preset or method name (the row label)
    condition: str  # a condition, "all" (the unified protocol) or a missing-rate label (random: r0.30)
    fold: str
    seed: int
    out: str
    config: dict  # the fully resolved run config

    @property
    def label(self) -> str:
        return f"{self.method}/{self.condition}/{self.fold}/seed{self.seed}"


def plan_grid(
    base_cfg: Any,
    methods: list[str],
    conditions: Sequence[str],
    seeds: list[int],
    folds: list[str],
    out: str | Path,
    method_options: dict | None = None,
) -> list[RunSpec]:
    """Expand the grid into resolved run configs (each validated: nothing fails later for a knowable reason).

    A preset's options apply over ``base_cfg``'s; ``method_options`` (``--method-opt``) apply last, each
    to the methods that have the option."""
    from hardymer.catalog.validation import check_out_dir, validate_config

    check_out_dir(out, "--out")
    specs = []
    for name in methods:
        method, options = resolve_method(name)
        if method_options:
            own = {f.name for f in dataclasses.fields(method_config_class(method))}
            options = {**options, **{k: v for k, v in method_options.items() if k in own}}
        for fold in folds:
            for cond in conditions:
                for seed in seeds:
                    cfg = base_cfg.copy()
                    cfg.method.name = method
                    cfg.method.options = OmegaConf.merge(cfg.method.options, options)
                    cfg.data.fold = str(fold)
                    set_run_condition(cfg, cond)
                    cfg.seed = int(seed)
                    run_out = Path(out) / name / cond / f"fold{fold}" / f"seed{seed}"
                    cfg.out = str(run_out)
                    validate_config(cfg, check_out=False)
                    specs.append(RunSpec(name, cond, str(fold), int(seed), str(run_out), to_container(cfg)))
    return specs


def is_done(spec: RunSpec) -> bool:
    """A finished run: metrics.json present and made from the same config."""
    p = Path(spec.out) / "metrics.json"
    if not p.is_file():
        return False
    try:
        m = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return m.get("config_hash") == config_hash(spec.config)


def _read_metrics(spec: RunSpec) -> dict:
    m = json.loads((Path(spec.out) / "metrics.json").read_text())
    m["bench_method"] = spec.method
    return m


def execute(spec: RunSpec, threads: int = 1, wait: bool = True) -> dict | None:
    """Run one spec in this process with a per-run log file; returns its metrics.

    The run holds ``<out>/.lock`` (an OS lock: released when the holder dies, so a dead process
    never blocks a rerun) while it trains. A run another process holds is waited for
    (``wait=True``) or skipped (``wait=False``: returns ``None``); a run found finished once the
    lock is held is not trained again (its metrics are read).
    """
    from filelock import FileLock, Timeout

    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".lock"))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return None
    try:
        if is_done(spec):
            return _read_metrics(spec)
        return _execute(spec, threads)
    finally:
        lock.release()


def _execute(spec: RunSpec, threads: int) -> dict:
    import torch

    from hardymer._memory import return_freed_memory
    from hardymer.config import load_config
    from hardymer.training.run import run_experiment, run_log

    return_freed_memory()  # a spawned or Ray worker is a fresh process (acts only when asked)
    torch.set_num_threads(threads)
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    with run_log(out):  # also what happens before and around the run (config errors, failures)
        metrics = run_experiment(load_config(spec.config), log_epochs=True, log_file=False)
    metrics["bench_method"] = spec.method
    return metrics


def _batch_key(spec: RunSpec) -> str | None:
    """The group a spec may be model-batched in (``None``: trained on its own): with
    ``train.batch_members`` > 1, backbone runs (any protocol) and hardymer runs (fixed protocol),
    grouped by everything but the condition and the seed."""
    cfg = spec.config
    if int((cfg.get("train") or {}).get("batch_members", 1) or 1) <= 1:
        return None
    if not batches_method(str((cfg.get("method") or {}).get("name"))):
        return None
    rest = {k: v for k, v in cfg.items() if k not in ("condition", "out", "seed")}
    return json.dumps(rest, sort_keys=True, default=str)


T = TypeVar("T")


def fill_seed_by_seed(runs: Sequence[T], size: int, seed: Callable[[T], int]) -> list[list[T]]:
    """``runs`` in groups of at most ``size``, filled seed by seed (sorted by ``seed``, stably, so
    the conditions of one seed stay together and in order)."""
    ordered = sorted(runs, key=seed)
    return [list(ordered[k : k + size]) for k in range(0, len(ordered), size)]


def plan_jobs(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """The specs as jobs: groups of at most ``train.batch_members`` runs that differ only in their
    condition and seed, filled seed by seed (trained as one model-batched network,
    :mod:`hardymer.training.members`), and single runs; in the order of their first spec."""
    groups: dict[str, list[RunSpec]] = {}
    first: dict[str, int] = {}
    jobs: list[tuple[int, list[RunSpec]]] = []
    for n, s in enumerate(specs):
        key = _batch_key(s)
        if key is None:
            jobs.append((n, [s]))
            continue
        groups.setdefault(key, []).append(s)
        first.setdefault(key, n)
    for key, members in groups.items():
        size = int(members[0].config["train"]["batch_members"])
        for k, group in enumerate(fill_seed_by_seed(members, size, lambda s: s.seed)):
            jobs.append((first[key] + k * size, group))
    return [job for _, job in sorted(jobs, key=lambda j: j[0])]


def execute_group(specs: list[RunSpec], threads: int = 1, wait: bool = True) -> list[dict | None]:
    """Run a job of :func:`plan_jobs` in this process; per spec its metrics, or ``None`` for a run
    another process holds (``wait=False``). Each run folder's lock is held while the job trains."""
    if len(specs) == 1:
        return [execute(specs[0], threads, wait)]
    from filelock import FileLock, Timeout

    locks, held = [], []
    results: dict[str, dict | None] = {}
    try:
        for s in specs:
            Path(s.out).mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(Path(s.out) / ".lock"))
            try:
                lock.acquire(timeout=-1 if wait else 0)
            except Timeout:
                results[s.out] = None
                continue
            locks.append(lock)
            if is_done(s):
                results[s.out] = _read_metrics(s)
            else:
                held.append(s)
        if held:
            for s, m in zip(held, _execute_group(held, threads), strict=True):
                results[s.out] = m
    finally:
        for lock in locks:
            lock.release()
    return [results[s.out] for s in specs]


def _execute_group(specs: list[RunSpec], threads: int) -> list[dict]:
    import torch

    from hardymer._memory import return_freed_memory
    from hardymer.config import load_config
    from hardymer.training.run import run_member_group

    return_freed_memory()
    torch.set_num_threads(threads)
    metrics = run_member_group([load_config(s.config) for s in specs], log_epochs=True)
    for s, m in zip(specs, metrics, strict=True):
        m["bench_method"] = s.method
    return metrics


def run_grid(
    specs: list[RunSpec],
    workers: int = 1,
    threads: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    on_done: Callable[[RunSpec, dict | None], None] | None = None,
) -> list[dict]:
    """Run every unfinished spec; return the metrics of all specs (finished ones re-read)."""
    todo = [s for s in specs if not is_done(s)]
    unbatched = sorted(
        {s.method for s in todo if int(s.config["train"].get("batch_members", 1) or 1) > 1 and _batch_key(s) is None}
    )
    if unbatched:
        log.info(
            "train.batch_members: %s trained run by run (model-batched training exists for backbone and, "
            "under the fixed protocol, hardymer's teachers)",
            ", ".join(unbatched),
        )
    log.info("%d runs planned, %d already finished, %d to run", len(specs), len(specs) - len(todo), len(todo))
    failures: list[tuple[str, str]] = []
    if backend == "local":
        # first pass: runs another process holds are skipped; second pass: wait for them (and take
        # over the ones whose holder died), so concurrent benches on one folder split the work
        busy: list[RunSpec] = []

        def settle(job: list[RunSpec], result: Callable[[], list[dict | None]]) -> None:
            """Record a job's outcome per run: failed (reported at the end), held by another process, or done."""
            try:
                res: list[dict | None] = result()
            except Exception as exc:  # keep going; report at the end
                failures.extend((s.label, repr(exc)) for s in job)
                res = [{} for _ in job]
            for s, r in zip(job, res, strict=True):
                if r is None:
                    busy.append(s)
                elif on_done:
                    on_done(s, None)

        for wait, pending in ((False, todo), (True, busy)):
            if pending is busy and busy:
                log.info("%d runs were held by another process; waiting for them", len(busy))
            jobs = plan_jobs(list(pending))
            if any(len(j) > 1 for j in jobs):
                log.info(
                    "%d runs in %d model-batched groups (train.batch_members)",
                    sum(len(j) for j in jobs if len(j) > 1),
                    sum(1 for j in jobs if len(j) > 1),
                )
            if workers <= 1:
                for job in jobs:
                    settle(job, functools.partial(execute_group, job, threads, wait))
            elif jobs:
                import multiprocessing as mp

                with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
                    futs = {pool.submit(execute_group, job, threads, wait): job for job in jobs}
                    for f in as_completed(futs):
                        settle(futs[f], f.result)
    elif backend == "ray":
        from hardymer.bench.ray_backend import run_with_ray

        if any(len(j) > 1 for j in plan_jobs(todo)):
            log.info("train.batch_members: the ray backend trains run by run (model-batched groups run locally)")

        failures += run_with_ray(todo, execute, threads=threads, address=ray_address, on_done=on_done)
    else:
        raise ValueError(f"unknown backend {backend!r}; use local or ray")
    for label, err in failures:
        log.error("run %s failed: %s (see its log.txt)", label, err)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(todo)} runs failed; rerun the same command to resume")
    return [_read_metrics(s) for s in specs]
