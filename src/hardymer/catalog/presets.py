"""Named method presets (``configs/methods.yaml``): a registered method plus options."""

from __future__ import annotations

from importlib import resources

import yaml

from hardymer.errors import ConfigError
from hardymer.models import list_methods


def load_presets() -> dict[str, dict]:
    text = resources.files("hardymer").joinpath("configs/methods.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def resolve_method(name: str) -> tuple[str, dict]:
    """``(registered method, options)`` for a preset or method name."""
    presets = load_presets()
    if name in presets:
        p = presets[name]
        return p["method"], dict(p.get("options") or {})
    if name in list_methods():
        return name, {}
    raise ConfigError(
        f"unknown method or preset {name!r}; methods: {', '.join(list_methods())}; "
        f"presets: {', '.join(sorted(presets))}"
    )
