"""Checks of a run config before any work: ranges, names, option keys, paths and the device.

``validate_config(cfg)`` raises one :class:`~hardymer.errors.ConfigError` naming the option (the
command-line flag where there is one, else the config key) and what is wrong. Train keys are
checked by generic rules (numbers finite) plus the per-key table :data:`TRAIN_RULES`, which is
the place to add a rule for a new ``TrainConfig`` key; keys without a rule pass.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from hardymer.errors import ConfigError

if typing.TYPE_CHECKING:
    from hardymer.models import Method

#: config key -> command-line flag (messages name the flag the user typed)
FLAGS = {
    "train.epochs": "--epochs",
    "train.batch_size": "--batch-size",
    "train.lr": "--lr",
    "train.device": "--device",
    "train.select_on": "--select-on",
    "data.name": "--dataset",
    "data.fold": "--fold",
    "method.name": "--method",
    "out": "--out",
    "protocol": "--protocol",
    "condition": "--condition",
    "missing.rate": "--missing-rate",
    "missing.mask": "--mask",
    "missing.mask_seed": "--mask-seed",
}


def option_label(key: str, value: Any) -> str:
    """``--epochs 0`` when the key has a flag, else ``train.patience=-1``."""
    flag = FLAGS.get(key)
    return f"{flag} {value}" if flag else f"{key}={value}"


Rule = Callable[[Any], "str | None"]


def _int_at_least(lo: int, optional: bool = False) -> Rule:
    def rule(v: Any) -> str | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be an integer"
        return None if v >= lo else f"must be >= {lo}"

    return rule


def _float_range(lo: float, strict: bool) -> Rule:
    def rule(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "must be a number"
        if not math.isfinite(v):
            return "must be finite"
        ok = v > lo if strict else v >= lo
        return None if ok else f"must be {'>' if strict else '>='} {lo}"

    return rule


def _one_of(*choices: str) -> Rule:
    def rule(v: Any) -> str | None:
        return None if v in choices else f"must be one of {', '.join(choices)}"

    return rule


def _device(v: Any) -> str | None:
    import torch

    if str(v).strip().lower() == "auto":
        return None
    try:
        dev = torch.device(str(v))
    except (RuntimeError, ValueError):
        return "not a torch device (auto, cpu, cuda, cuda:1)"
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available"
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return f"only {torch.cuda.device_count()} CUDA device(s)"
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return "MPS is not available"
    return None


#: per-key rules of ``train.*``; a key without an entry is checked only by the generic rules
TRAIN_RULES: dict[str, Rule] = {
    "epochs": _int_at_least(1),
    "batch_size": _int_at_least(1),
    "lr": _float_range(0.0, strict=True),
    "weight_decay": _float_range(0.0, strict=False),
    "grad_clip": _float_range(0.0, strict=False),
    "patience": _int_at_least(0),
    "select_on": _one_of("val", "test"),
    "max_len": _int_at_least(1, optional=True),
    "num_threads": _int_at_least(1, optional=True),
    "device": _device,
    "stage2_steps": _int_at_least(1, optional=True),
    "optimizer": _one_of("adam", "adamw"),
    "precision": _one_of("fp32", "bf16"),
    "batch_members": _int_at_least(1),
}


def validate_config(cfg: Any, *, check_out: bool = True, condition_list: bool = False) -> None:
    """Raise ``ConfigError`` for the first invalid value of a run config (DictConfig or dict).

    ``condition_list``: ``condition`` may name several conditions (``a,tv``, ``all``, ``missing``), as a
    config file given to ``hardymer train --config`` may (one run per condition); a run's config names one.
    """
    from omegaconf import OmegaConf

    from hardymer.conditions import Condition, parse_conditions
    from hardymer.data.protocol import PROTOCOLS

    d: dict = cast(dict, OmegaConf.to_container(cfg, resolve=True)) if not isinstance(cfg, dict) else cfg
    train = d.get("train") or {}
    for key, value in train.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{option_label('train.' + key, value)}: must be finite")
        rule = TRAIN_RULES.get(key)
        problem = rule(value) if rule is not None else None
        if problem:
            raise ConfigError(f"{option_label('train.' + key, value)}: {problem}")
    if train.get("select_metric", "auto") != "auto":
        from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_names

        known = set(metric_names("classification")) | set(metric_names("regression")) | set(LOWER_IS_BETTER)
        if train["select_metric"] not in known:
            raise ConfigError(
                f"train.select_metric={train['select_metric']}: unknown metric; "
                f"use auto or one of {', '.join(sorted(known))}"
            )
    if train.get("record_test_curve") and (not train.get("evaluate_test", True) or train.get("select_on") == "test"):
        raise ConfigError(
            "train.record_test_curve=true: needs train.evaluate_test=true and train.select_on=val "
            "(it records the test curve beside validation selection)"
        )
    protocol = d.get("protocol", "fixed")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{option_label('protocol', protocol)}: must be one of {', '.join(PROTOCOLS)}")
    check_missing(d.get("missing") or {})
    try:
        if condition_list:
            parse_conditions(str(d.get("condition", "atv")))
        else:
            Condition(d.get("condition", "atv"))
    except ValueError as exc:
        raise ConfigError(f"{option_label('condition', d.get('condition'))}: {exc}") from None
    if isinstance(d.get("seed"), bool) or not isinstance(d.get("seed", 0), int):
        raise ConfigError(f"seed={d.get('seed')}: must be an integer")
    method = d.get("method") or {}
    check_method_options(method.get("name", "zero-fill"), method.get("options") or {})
    check_stages(method.get("name", "zero-fill"), method.get("options") or {}, train)
    data = d.get("data") or {}
    check_dataset_options(data.get("name", "synthetic"), data.get("options") or {})
    if check_out and d.get("out"):
        check_out_dir(d["out"], "--out")


def check_missing(missing: dict) -> None:
    """The random protocol's settings: ``missing.rate`` in [0, 0.7], a known ``missing.mask``
    generator, an integer ``missing.mask_seed`` >= 0 (checked whatever the protocol: a config file
    that names them should name valid ones)."""
    from hardymer.data.masks import MASK_KINDS, MAX_RATE, check_rate

    rate = missing.get("rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
        raise ConfigError(f"{option_label('missing.rate', rate)}: must be a number in [0, {MAX_RATE}]")
    try:
        check_rate(rate)
    except ValueError:
        raise ConfigError(
            f"{option_label('missing.rate', rate)}: must be in [0, {MAX_RATE}] (the field's sweep; with three "
            "modalities and at least one kept, higher rates are not reachable)"
        ) from None
    kind = missing.get("mask", "independent")
    if kind not in MASK_KINDS:
        raise ConfigError(f"{option_label('missing.mask', kind)}: unknown mask generator; use {', '.join(MASK_KINDS)}")
    seed = missing.get("mask_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{option_label('missing.mask_seed', seed)}: must be an integer >= 0")


def check_method_options(name: str, options: dict) -> None:
    """Known method, known option keys (listed when one is not), values of the field's type."""
    from hardymer.models import METHODS, list_methods, method_config_class

    if name not in METHODS:
        raise ConfigError(
            f"--method {name}: unknown method; methods: {', '.join(list_methods())}" + METHODS.suggestion(name)
        )
    cls = method_config_class(name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable annotations: check keys only
        hints = {}
    for key, value in options.items():
        if key not in fields:
            raise ConfigError(
                f"--method-opt {key}={value}: method {name!r} has no option {key!r}; options: {', '.join(fields)}"
            )
        problem = _type_problem(value, hints.get(key))
        if problem:
            raise ConfigError(f"--method-opt {key}={value}: {problem}")


def check_method_name(name: str, option: str = "--method") -> None:
    """A registered method or a preset of ``configs/methods.yaml``; else the known names, and the
    nearest one when the name looks like a typo."""
    import difflib

    from hardymer.catalog.presets import load_presets
    from hardymer.models import list_methods

    presets = load_presets()
    if name in presets or name in list_methods():
        return
    close = difflib.get_close_matches(str(name), [*list_methods(), *presets], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"{option} {name}: unknown method or preset; methods: {', '.join(list_methods())}; "
        f"presets: {', '.join(sorted(presets))}{hint}"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def stage_lengths(name: str, options: dict, epochs: int) -> tuple[int, int] | None:
    """``(stage-1 epochs, stage-2 epochs)`` of a two-stage method trained ``epochs`` epochs (the
    method's own rule, :meth:`~hardymer.models.Method.stage1_epochs`); ``None`` for one stage."""
    import types as _types

    from hardymer.models import METHODS, method_config

    cls = cast("type[Method]", METHODS.get(name))  # registered factories are the Method classes
    fraction = getattr(method_config(name, **options), "stage1_fraction", getattr(cls, "stage1_fraction", 0.0))
    if not fraction or fraction <= 0:
        return None
    schedule = _types.SimpleNamespace(stage1_fraction=fraction)  # what the rule reads; no model is built
    s1 = int(cls.stage1_epochs(cast("Method", schedule), epochs))
    return s1, epochs - s1


def check_stages(name: str, options: dict, train: dict) -> None:
    """A two-stage method (``stage1_fraction`` > 0) gets at least one epoch in each stage; else
    ``ConfigError`` naming both stage lengths and the fewest epochs that give each stage one."""
    epochs = train.get("epochs")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        return  # the epochs rule reports it
    lengths = stage_lengths(name, options, epochs)
    if lengths is None:
        return
    s1, s2 = lengths
    if train.get("stage2_steps") is not None:
        s2 = max(s2, 1)  # a step-based stage 2 lasts as long as its steps need
    if s1 >= 1 and s2 >= 1:
        return
    least = next((n for n in range(epochs + 1, 10_000) if min(stage_lengths(name, options, n) or (1, 1)) >= 1), None)
    stage2 = "from train.stage2_steps" if train.get("stage2_steps") is not None else s2
    raise ConfigError(
        f"{option_label('train.epochs', epochs)}: {name} trains 2 stages (stage 1: "
        f"{_plural(s1, 'epoch')}, stage 2: {stage2}); give at least {least}"
    )


def _type_problem(value: Any, hint: Any) -> str | None:
    if hint is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        problems = [_type_problem(value, a) for a in args if a is not type(None)]
        return None if any(p is None for p in problems) else (problems[0] if problems else None)
    if origin is typing.Literal:
        return None if value in args else f"must be one of {', '.join(map(str, args))}"
    if hint is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be finite"
    if hint is str:
        return None if isinstance(value, str) else "must be a string"
    return None


def dataset_option_names(name: str) -> list[str] | None:
    """Options a registered dataset accepts (``None`` when its loader takes any keyword)."""
    from hardymer.data import dataset_option_defaults

    opts, open_ended = dataset_option_defaults(name)
    return None if open_ended else list(opts)


def check_dataset_options(name: str, options: dict) -> None:
    """Known dataset; every ``--data-opt`` key accepted by its loader (the valid ones listed)."""
    from hardymer.data import DATASETS, list_datasets

    if name not in list_datasets():
        raise ConfigError(
            f"--dataset {name}: unknown dataset; datasets: {', '.join(list_datasets())}" + DATASETS.suggestion(name)
        )
    valid = dataset_option_names(name)
    if valid is None:
        return
    for key, value in options.items():
        if key not in valid:
            raise ConfigError(f"--data-opt {key}={value}: {name} has no option {key!r}; options: {', '.join(valid)}")


def check_out_dir(out: str | Path, option: str = "--out") -> None:
    """``out`` is (or can be created as) a writable folder: not an existing file, parent writable."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {out}: is an existing file, not a folder")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"{option} {out}: {probe} is a file, not a folder")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {out}: {probe} is not writable")
