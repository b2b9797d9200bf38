"""What ``hardymer list`` shows: methods with their options and presets, datasets with their
options, conditions and recipes, each with its defaults, as plain (JSON-ready) data."""

from __future__ import annotations

import dataclasses
from typing import Any

from hardymer.catalog.presets import load_presets
from hardymer.catalog.recipes import list_recipes, load_recipe
from hardymer.conditions import CONDITIONS, MISSING_CONDITIONS, MODALITY_NAMES
from hardymer.models import list_methods, method_config, method_info

#: the sections of the catalogue, in display order
SECTIONS = ("methods", "presets", "datasets", "conditions", "recipes")


def _plain(value: Any) -> Any:
    """A default as JSON-ready data (tuples as lists)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def method_options(name: str) -> dict[str, Any]:
    """``{option: default}`` of a registered method (the fields of its config dataclass)."""
    cfg = method_config(name)
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def presets() -> list[dict]:
    """Every preset of ``configs/methods.yaml``: name, method and the options it sets."""
    return [
        {"name": n, "method": p["method"], "options": dict(p.get("options") or {})} for n, p in load_presets().items()
    ]


def methods() -> list[dict]:
    """Every registered method: its description, protocols, options with defaults and the presets built on it."""
    by_method: dict[str, list[str]] = {}
    for p in presets():
        if p["name"] != p["method"] or p["options"]:
            by_method.setdefault(p["method"], []).append(p["name"])
    out = []
    for m in list_methods():
        info = method_info(m)
        out.append(
            {
                "name": m,
                "paper": info.get("paper", ""),
                "protocols": list(info.get("protocols", [])),
                "options": method_options(m),
                "presets": by_method.get(m, []),
            }
        )
    return out


def dataset_options(name: str) -> tuple[dict[str, Any], bool]:
    """``({option: default}, open_ended)`` of a registered dataset (see
    :func:`hardymer.data.registry.dataset_option_defaults`), defaults as JSON-ready data."""
    from hardymer.data import dataset_option_defaults

    opts, open_ended = dataset_option_defaults(name)
    return {k: _plain(v) for k, v in opts.items()}, open_ended


def datasets() -> list[dict]:
    """Every registered dataset with its options and defaults."""
    from hardymer.data import list_datasets

    out = []
    for d in list_datasets():
        opts, open_ended = dataset_options(d)
        out.append({"name": d, "options": opts, "open_ended": open_ended})
    return out


def conditions() -> list[dict]:
    """The seven conditions (available modalities) and the two group names."""
    rows = [
        {
            "name": c,
            "available": [MODALITY_NAMES[m] for m in c],
            "missing": [MODALITY_NAMES[m] for m in "atv" if m not in c],
        }
        for c in CONDITIONS
    ]
    rows.append({"name": "missing", "means": list(MISSING_CONDITIONS)})
    rows.append({"name": "all", "means": list(CONDITIONS)})
    return rows


def recipes() -> list[dict]:
    """Every packaged recipe: description, train settings and per-method options."""
    out = []
    for r in list_recipes():
        data = load_recipe(r)
        out.append(
            {
                "name": r,
                "description": " ".join(str(data.get("description") or "").split()),
                "train": dict(data.get("train") or {}),
                "methods": {m: dict(o or {}) for m, o in (data.get("methods") or {}).items()},
            }
        )
    return out


def catalog(section: str | None = None) -> dict[str, list[dict]]:
    """The whole catalogue (``{section: rows}``), or one section of :data:`SECTIONS`."""
    from hardymer.errors import ConfigError

    build = {"methods": methods, "presets": presets, "datasets": datasets, "conditions": conditions, "recipes": recipes}
    if section is not None and section not in build:
        raise ConfigError(f"hardymer list {section}: unknown section; sections: {', '.join(SECTIONS)}")
    return {s: build[s]() for s in SECTIONS if section in (None, s)}
