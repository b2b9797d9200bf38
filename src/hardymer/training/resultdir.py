"""Safety of finished results: a run folder holding a finished run of another config is not reused.

A run folder is finished when it holds ``metrics.json``; its ``config_hash`` and ``config.yaml`` say
which config produced it. :func:`check_run_dir` refuses to write a different config there (naming
the keys that differ) unless ``overwrite`` is set.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from hardymer.config import config_hash, to_container
from hardymer.errors import ConfigError

log = logging.getLogger(__name__)

#: keys that never make two configs different results (where outputs go, device, threads)
NEUTRAL_KEYS = ("out", "cache_dir", "train.device", "train.num_threads")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def config_differences(old: dict, new: dict) -> list[str]:
    """Dotted keys whose values differ between two config dicts, as ``key: old -> new`` (sorted).

    Keys in :data:`NEUTRAL_KEYS` are ignored; a key present on one side only shows ``<absent>``.
    """
    a, b = _flatten(old), _flatten(new)
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key in NEUTRAL_KEYS:
            continue
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if va != vb:
            diffs.append(f"{key}: {va!r} -> {vb!r}")
    return diffs


def finished_config_hash(out: str | Path) -> str | None:
    """The ``config_hash`` of the finished run in ``out`` (None when there is none)."""
    metrics = Path(out) / "metrics.json"
    if not metrics.is_file():
        return None
    try:
        return json.loads(metrics.read_text()).get("config_hash")
    except (OSError, ValueError, AttributeError):
        return ""


def check_run_dir(out: str | Path, cfg: Any, overwrite: bool = False) -> bool:
    """Whether ``out`` already holds a finished run of ``cfg`` (same config hash).

    A finished run of a *different* config raises :class:`~hardymer.errors.ConfigError` naming the
    differing keys (from the stored ``config.yaml``), unless ``overwrite`` is true (then a warning
    is logged and False returned: the run is redone in place). No finished run: False.
    """
    stored = finished_config_hash(out)
    if stored is None:
        return False
    new_hash = config_hash(cfg)
    if stored == new_hash:
        return True
    cfg_file = Path(out) / "config.yaml"
    try:
        old = yaml.safe_load(cfg_file.read_text()) or {}
        diffs = config_differences(old, to_container(cfg) if not isinstance(cfg, dict) else cfg)
    except (OSError, yaml.YAMLError):
        diffs = []
    what = "; ".join(diffs) if diffs else f"config hash {stored or '?'} -> {new_hash} ({cfg_file} unreadable)"
    if overwrite:
        log.warning("%s: overwriting a finished run of another config (%s)", out, what)
        return False
    raise ConfigError(
        f"{out} holds a finished run of another config ({what}); use another --out, or --overwrite to replace it"
    )
