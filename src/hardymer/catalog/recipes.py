"""Named recipes (``configs/recipes/NAME.yaml``): train settings plus per-method options.

A recipe has a ``train:`` mapping (TrainConfig keys) and a ``methods:`` mapping from a registered
method name to its options. Options a method does not have are skipped, so one recipe can serve
several methods. Recipes merge over the defaults, before ``--config`` files and flags.
"""

from __future__ import annotations

import dataclasses
import logging
from importlib import resources

import yaml

from hardymer.errors import ConfigError
from hardymer.models import method_config

log = logging.getLogger(__name__)


def list_recipes() -> list[str]:
    """Names of the packaged recipes."""
    folder = resources.files("hardymer").joinpath("configs/recipes")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_recipe(name: str) -> dict:
    """The raw recipe mapping; unknown name -> ConfigError listing the recipes."""
    if name not in list_recipes():
        raise ConfigError(f"unknown recipe {name!r}; recipes: {', '.join(list_recipes())}")
    text = resources.files("hardymer").joinpath(f"configs/recipes/{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or set(data) - {"train", "methods", "description"}:
        raise ConfigError(f"recipe {name!r}: top-level keys must be train, methods (and description)")
    return data


def method_option_names(method: str) -> set[str]:
    """The option names a registered method accepts (fields of its config dataclass)."""
    return {f.name for f in dataclasses.fields(method_config(method))}


def recipe_overrides(name: str, method: str) -> dict:
    """Config overrides of recipe ``name`` for registered ``method``: ``{"train": ..., "method": {"options": ...}}``."""
    data = load_recipe(name)
    over: dict = {"train": dict(data.get("train") or {})}
    methods = data.get("methods") or {}
    if method not in methods:
        log.warning("recipe %s has no options for method %s: only its train settings apply", name, method)
    known = method_option_names(method)
    opts = {}
    for k, v in (methods.get(method) or {}).items():
        if k in known:
            opts[k] = v
        else:
            log.info("recipe %s: method %s has no option %s (skipped)", name, method, k)
    over["method"] = {"options": opts}
    return over
