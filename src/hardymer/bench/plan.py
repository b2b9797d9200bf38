"""Planning the runs of ``hardymer bench``: from the options as given to resolved, checked run specs.

:func:`plan_bench` turns a :class:`BenchRequest` (the option values, as text where the command line
gives text) into a :class:`BenchPlan`: one :class:`~hardymer.bench.grid.RunSpec` per method ×
condition × fold × seed, each config built with its method's recipe and tuned config where asked,
and the notes of the results header. Nothing is trained; every run folder is checked first (a
finished run of another config is refused unless ``overwrite``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hardymer.bench.grid import RunSpec, plan_grid
from hardymer.conditions import Condition, parse_conditions, rate_label
from hardymer.config import set_run_condition
from hardymer.data.masks import parse_rates
from hardymer.errors import ConfigError

log = logging.getLogger(__name__)

#: the backends :func:`~hardymer.bench.grid.run_grid` runs on
BACKENDS = ("local", "ray")

#: ``(method or None) -> base run config``: the defaults, recipe, config files and flags merged
ConfigFactory = Callable[[str | None], Any]


def parse_int_list(spec: str, what: str) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,5"`` -> [0, 2, 5]; anything else (``"3-1"``, ``"0-"``) -> ``ConfigError``
    naming ``what`` (the option)."""
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                lo, hi = int(part[:cut]), int(part[cut + 1 :])
                if lo > hi:
                    raise ConfigError(f"{what} {spec}: empty range {part} (the start is after the end)")
                out += list(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ConfigError:
            raise
        except ValueError:
            raise ConfigError(f"{what} {spec}: {part!r} is not an integer, a list (0,1,2) or a range (0-4)") from None
    return out


def parse_folds(spec: str) -> list[str]:
    """Fold numbers (``"0-4"``, ``"0,2"``) or names (``"session1,session2"``); ``ConfigError`` when none."""
    digits = str(spec).replace("-", "").replace(",", "").strip()
    folds = (
        [str(f) for f in parse_int_list(spec, "--folds")]
        if digits.isdigit()
        else [f.strip() for f in str(spec).split(",") if f.strip()]
    )
    if not folds:
        raise ConfigError(f"--folds {spec!r}: no fold named")
    return folds


def parse_method_list(spec: str) -> list[str]:
    """A comma list of methods or presets, each known (``ConfigError`` with the nearest name when not)."""
    from hardymer.catalog.validation import check_method_name

    names = [m.strip() for m in str(spec).split(",") if m.strip()]
    if not names:
        raise ConfigError(f"--methods {spec!r}: no method or preset named")
    for m in names:
        check_method_name(m, "--methods")
    return names


def parse_rate_list(spec: str, what: str = "--missing-rates") -> list[float]:
    """Missing rates (a rate, a comma list or ``sweep``) -> sorted rates; ``ConfigError`` naming ``what``."""
    try:
        return parse_rates(spec)
    except ValueError as exc:
        raise ConfigError(f"{what} {spec}: {exc}") from None


def parse_condition_list(
    spec: str, protocol: str, what: str = "--conditions", rates: str | None = None
) -> list[Condition] | list[str]:
    """The conditions of the fixed protocol (``'all'``, ``'missing'`` or a comma list); ``["all"]`` for
    the unified one (one model trained and evaluated under every condition); for the random one the
    labels (``r0.30``) of ``rates`` (``--missing-rates``: a rate, a comma list or ``sweep``)."""
    if protocol == "random":
        if rates is None:
            raise ConfigError("--protocol random needs --missing-rates (a rate, a comma list or 'sweep')")
        return [rate_label(r) for r in parse_rate_list(rates)]
    if rates is not None:
        raise ConfigError(f"--missing-rates {rates}: only with --protocol random (the protocol is {protocol})")
    if protocol != "fixed":
        return ["all"]
    try:
        return parse_conditions(spec)
    except ValueError as exc:
        raise ConfigError(f"{what} {spec}: {exc}") from None


def check_parallelism(workers: int, threads: int, backend: str = "local") -> None:
    """``--workers`` and ``--threads`` at least 1, a known ``--backend``."""
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    if threads < 1:
        raise ConfigError(f"--threads {threads}: must be >= 1")
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend}: unknown backend; use {' or '.join(BACKENDS)}")


@dataclass(frozen=True)
class BenchRequest:
    """The options of a bench, as given (``None``: not given)."""

    methods: str = "zero-fill,backbone,momke,hardymer"
    protocol: str = "fixed"
    conditions: str = "all"
    #: the random protocol's missing rates (a rate, a comma list or ``sweep``), generator and mask seed
    missing_rates: str | None = None
    mask: str | None = None
    mask_seed: int | None = None
    seeds: str = "0-2"
    folds: str = "0"
    out: str = "runs/bench"
    recipe: str | None = None
    tuned: str | None = None
    #: train keys given on the command line (``epochs``, ``lr``, ...): they win over tuned values
    train: dict[str, Any] = field(default_factory=dict)
    #: ``--method-opt`` values: each applies to the methods that have the option, over presets and tuned values
    method_options: dict[str, Any] = field(default_factory=dict)
    #: ``--set`` items (``key=value``): they win over tuned values
    set_: tuple[str, ...] = ()
    workers: int = 1
    threads: int = 1
    backend: str = "local"
    overwrite: bool = False


@dataclass(frozen=True)
class BenchPlan:
    """The runs of a bench (in grid order), its row labels and the notes of the results header."""

    specs: list[RunSpec]
    methods: list[str]
    notes: list[str]

    @property
    def run_dirs(self) -> list[Path]:
        """The run folders, in the order of :attr:`specs`."""
        return [Path(s.out) for s in self.specs]


def check_method_options(methods: Sequence[str], options: dict[str, Any]) -> None:
    """Every ``--method-opt`` key is an option of at least one of ``methods`` (the options listed when not)."""
    from hardymer.catalog.presets import resolve_method
    from hardymer.models import method_config_class

    fields: dict[str, set[str]] = {}
    for m in methods:
        base = resolve_method(m)[0]
        fields[base] = {f.name for f in dataclasses.fields(method_config_class(base))}
    known = set().union(*fields.values()) if fields else set()
    for key, value in options.items():
        if key not in known:
            raise ConfigError(
                f"--method-opt {key}={value}: none of {', '.join(fields)} has an option {key!r}; "
                f"options: {', '.join(sorted(known))}"
            )


def _explicit(cfg: Any, train: dict[str, Any], set_: Sequence[str]) -> Any:
    """``cfg`` with the train flags and ``--set`` items given on the command line applied again
    (over a tuned config, which replaces the train settings)."""
    given = {k: v for k, v in train.items() if v is not None}
    if not given and not set_:
        return cfg
    try:
        if given:
            cfg = OmegaConf.merge(cfg, {"train": given})
        if set_:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(set_)))
    except OmegaConfBaseException as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    return cfg


def plan_bench(request: BenchRequest, base_config: ConfigFactory) -> BenchPlan:
    """Resolve and check every run of a bench before any work.

    ``base_config(method)`` gives the base run config (for ``method``'s recipe when a recipe is
    used; ``None``: the config without a method-specific recipe). With ``request.tuned``, each
    method (and condition, for per-condition studies) takes its ``best.yaml``; the train flags and
    ``--set`` items given still win.
    """
    from hardymer.bench.tuned import apply_tuned, tuned_config_path, tuned_note
    from hardymer.catalog.presets import resolve_method
    from hardymer.training.resultdir import check_run_dir

    check_parallelism(request.workers, request.threads, request.backend)
    cfg = base_config(None)
    methods = parse_method_list(request.methods)
    check_method_options(methods, request.method_options)
    conditions = parse_condition_list(request.conditions, request.protocol, rates=request.missing_rates)
    if request.protocol != "random" and (request.mask is not None or request.mask_seed is not None):
        raise ConfigError(f"--mask / --mask-seed: only with --protocol random (the protocol is {request.protocol})")
    seeds = parse_int_list(request.seeds, "--seeds")
    folds = parse_folds(request.folds)
    notes: list[str] = []
    opts = request.method_options
    if request.tuned is None and request.recipe is None:
        specs = plan_grid(cfg, methods, conditions, seeds, folds, request.out, method_options=opts)
    else:
        specs = []
        for m in methods:
            m_cfg = base_config(resolve_method(m)[0]) if request.recipe is not None else cfg
            for c in conditions:
                c_cfg = m_cfg
                if request.tuned is not None:  # explicit flags win over tuned values
                    c_cfg = _explicit(
                        apply_tuned(m_cfg, tuned_config_path(request.tuned, m, c)), request.train, request.set_
                    )
                specs += plan_grid(c_cfg, [m], [c], seeds, folds, request.out, method_options=opts)
        if request.tuned is not None:
            notes.append(tuned_note(request.tuned, methods))
        if request.recipe is not None:
            notes.append(f"recipe `{request.recipe}` (configs/recipes/{request.recipe}.yaml)")
    for s in specs:  # before any work: never overwrite a finished run of another config
        check_run_dir(s.out, s.config, overwrite=request.overwrite)
    log.debug(
        "bench plan: %d runs (%d methods x %d conditions x %d folds x %d seeds)",
        len(specs),
        len(methods),
        len(conditions),
        len(folds),
        len(seeds),
    )
    return BenchPlan(specs=specs, methods=methods, notes=notes)


def plan_train(
    cfg: Any, conditions: Sequence[str], seeds: Sequence[int], out: str | Path, overwrite: bool = False
) -> list[Any]:
    """The run configs of ``hardymer train``: one per (condition, seed), in that order, each validated
    and its folder checked before any work.

    One run is written to ``out`` itself; several to ``out/<condition>/seed<seed>``. ``conditions``
    is ``["all"]`` for the unified protocol (the run config then names ``atv``).
    """
    from hardymer.catalog.validation import validate_config
    from hardymer.training.resultdir import check_run_dir

    single = len(conditions) == 1 and len(seeds) == 1
    runs = []
    for c in conditions:
        for s in seeds:
            run_cfg = cfg.copy()
            set_run_condition(run_cfg, c)
            run_cfg.seed = int(s)
            run_cfg.out = str(out) if single else str(Path(out) / str(c) / f"seed{s}")
            validate_config(run_cfg, check_out=False)
            check_run_dir(run_cfg.out, run_cfg, overwrite=overwrite)
            runs.append(run_cfg)
    return runs
