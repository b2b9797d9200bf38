"""Search spaces for ``hardymer tune``: parsing the YAML, filtering by method, sampling a trial.

A space maps config paths (``train.lr``, ``method.K``) to parameter specs; see
``configs/search_spaces.yaml`` for the format.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hardymer.catalog.recipes import method_option_names
from hardymer.config import TrainConfig
from hardymer.errors import ConfigError

log = logging.getLogger(__name__)

TYPES = ("float", "int", "categorical", "complement")
_TRAIN_KEYS = set(TrainConfig.__dataclass_fields__)


@dataclass(frozen=True)
class Param:
    """One searched (or derived) parameter."""

    key: str  # config path: train.<key> or method.<option>
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple = ()
    of: str | None = None  # complement: the parameter it complements
    task: str | None = None

    def as_dict(self) -> dict:
        d: dict[str, Any] = {"type": self.type}
        for k in ("low", "high", "step", "of", "task"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.log:
            d["log"] = True
        if self.choices:
            d["choices"] = list(self.choices)
        return d


@dataclass
class SearchSpace:
    params: list[Param] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {p.key: p.as_dict() for p in self.params}

    def sample(self, trial: Any) -> dict[str, Any]:
        """Draw values for ``trial`` (an optuna Trial); derived parameters are computed."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.type == "float":
                values[p.key] = trial.suggest_float(p.key, p.low, p.high, log=p.log, step=p.step)
            elif p.type == "int":
                assert p.low is not None and p.high is not None  # _parse_param sets both
                values[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
            elif p.type == "categorical":
                values[p.key] = trial.suggest_categorical(p.key, list(p.choices))
        for p in self.params:
            if p.type == "complement":
                assert p.of is not None  # _parse_param sets it
                values[p.key] = 1.0 - float(values[p.of])
        return values


def _parse_param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: parameter {key!r} must be a mapping with a 'type'")
    typ = spec.get("type")
    if typ not in TYPES:
        raise ConfigError(f"{where}: parameter {key!r} has unknown type {typ!r}; types: {', '.join(TYPES)}")
    section, _, name = key.partition(".")
    if section not in ("train", "method") or not name:
        raise ConfigError(f"{where}: parameter {key!r} must be train.<key> or method.<option>")
    if section == "train" and name not in _TRAIN_KEYS:
        raise ConfigError(f"{where}: parameter {key!r}: train has no key {name!r}")
    unknown = set(spec) - {"type", "low", "high", "step", "log", "choices", "of", "task"}
    if unknown:
        raise ConfigError(f"{where}: parameter {key!r} has unknown field(s) {sorted(unknown)}")
    task = spec.get("task")
    if task not in (None, "regression", "classification"):
        raise ConfigError(f"{where}: parameter {key!r}: task must be regression or classification")
    if typ in ("float", "int"):
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{where}: parameter {key!r} ({typ}) needs low and high")
        low, high = float(spec["low"]), float(spec["high"])
        if low > high:
            raise ConfigError(f"{where}: parameter {key!r}: low > high")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{where}: parameter {key!r}: log scale needs low > 0")
        return Param(
            key,
            typ,
            low=low,
            high=high,
            step=None if spec.get("step") is None else float(spec["step"]),
            log=bool(spec.get("log", False)),
            task=task,
        )
    if typ == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: parameter {key!r} (categorical) needs a non-empty choices list")
        return Param(key, typ, choices=tuple(choices), task=task)
    if not isinstance(spec.get("of"), str):
        raise ConfigError(f"{where}: parameter {key!r} (complement) needs 'of: <parameter>'")
    return Param(key, typ, of=spec["of"], task=task)


def read_spaces(path: str | Path | None = None) -> dict:
    """The raw space file: the packaged ``configs/search_spaces.yaml`` or ``path``."""
    if path is None:
        text = resources.files("hardymer").joinpath("configs/search_spaces.yaml").read_text(encoding="utf-8")
        where = "search_spaces.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--space: no such file {str(p)!r}")
        text, where = p.read_text(encoding="utf-8"), str(p)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{where}: must map group names (common, <method>) to parameter mappings")
    return {"where": where, "groups": data}


def build_space(method: str, task: str, path: str | Path | None = None, fixed: set[str] | None = None) -> SearchSpace:
    """The space of registered ``method`` for ``task``: ``common`` + the method's group.

    Parameters for options the method lacks, for the other task, or named in ``fixed`` (keys the
    user pinned, e.g. with ``--set``) are skipped. Every parameter is validated.
    """
    raw = read_spaces(path)
    groups, where = raw["groups"], raw["where"]
    merged: dict[str, Any] = dict(groups.get("common") or {})
    merged.update(groups.get(method) or {})
    options = method_option_names(method)
    fixed = fixed or set()
    params = []
    for key, spec in merged.items():
        p = _parse_param(str(key), spec, where)
        if p.key.startswith("method.") and p.key.split(".", 1)[1] not in options:
            log.debug("space: %s has no option %s (skipped)", method, p.key)
            continue
        if p.task is not None and p.task != task:
            continue
        if p.key in fixed or (p.type == "complement" and p.of in fixed):
            log.info("space: %s is fixed by the command line (not searched)", p.key)
            continue
        params.append(p)
    keys = {p.key for p in params}
    for p in params:
        if p.type == "complement" and p.of not in keys:
            raise ConfigError(f"{where}: parameter {p.key!r} complements {p.of!r}, which is not searched")
    return SearchSpace(params)
