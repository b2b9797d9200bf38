"""Tuned configs for ``hardymer bench --tuned DIR``.

``DIR/<method>/best.yaml`` (one study over the conditions, or the unified protocol) or, for
per-condition studies, ``DIR/<method>/<condition>/best.yaml``; each written by ``hardymer tune``
with its ``tune.json`` beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from omegaconf import OmegaConf

from hardymer.config import load_config
from hardymer.errors import ConfigError

_RUN_LOCAL_TRAIN_KEYS = ("device", "num_threads")  # where a run executes, not what it is


def tuned_source(tuned_dir: str | Path, method: str) -> str:
    """The folder name under ``tuned_dir`` whose config ``method`` uses: its own when tuned, else,
    for a preset (``configs/methods.yaml``), its base method's (the preset's options then apply on
    top, so e.g. ``hardymer-random-h`` runs with hardymer's tuned config and ``hardness: random``)."""
    if (Path(tuned_dir) / method).is_dir():
        return method
    from hardymer.catalog.presets import resolve_method

    base, _ = resolve_method(method)
    return base


def tuned_config_path(tuned_dir: str | Path, method: str, condition: str) -> Path:
    """The best.yaml for ``method`` (and ``condition`` with per-condition tuning); ConfigError if absent."""
    root = Path(tuned_dir) / tuned_source(tuned_dir, method)
    one = root / "best.yaml"
    per = root / condition / "best.yaml"
    if one.is_file():
        return one
    if condition != "all" and per.is_file():
        return per
    expected = f"{one}" + (f" or {per}" if condition != "all" else "")
    raise ConfigError(f"--tuned: no tuned config for method {method!r}: expected {expected} (run `hardymer tune`)")


def apply_tuned(base_cfg: Any, best_yaml: str | Path) -> Any:
    """``base_cfg`` with the tuned method (name and options) and train settings of ``best_yaml``."""
    tuned = load_config(str(best_yaml))
    cfg = base_cfg.copy()
    cfg.method.name = tuned.method.name
    cfg.method.options = tuned.method.options
    train = cast(dict, OmegaConf.to_container(tuned.train, resolve=True))
    for k in _RUN_LOCAL_TRAIN_KEYS:
        train.pop(k, None)
    train["evaluate_test"] = True
    cfg.train = OmegaConf.merge(cfg.train, train)
    return cfg


def tuned_note(tuned_dir: str | Path, methods: list[str]) -> str:
    """The results header line: ``tuned configs from DIR (N trials each, seeds ...)``, read from tune.json."""
    budgets = []
    for m in methods:
        p = Path(tuned_dir) / tuned_source(tuned_dir, m) / "tune.json"
        if not p.is_file():
            raise ConfigError(f"--tuned: {p} is missing (run `hardymer tune --out {Path(tuned_dir) / m}`)")
        info = json.loads(p.read_text())
        budgets.append(
            (
                int(info["trials_requested"]),
                tuple(info["seeds"]),
                bool(info.get("per_condition")),
                info.get("metric", "?"),
            )
        )
    trials = sorted({b[0] for b in budgets})
    seeds = sorted({s for b in budgets for s in b[1]})
    per = " per condition" if any(b[2] for b in budgets) else ""
    metric = ", ".join(sorted({b[3] for b in budgets}))
    return (
        f"tuned configs from {tuned_dir} ({'/'.join(map(str, trials))} trials each{per}, seeds "
        f"{', '.join(map(str, seeds))}; TPE on validation {metric}, test never read while tuning)"
    )
