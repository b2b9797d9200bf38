"""Methods, looked up by name: ``create_method("zero-fill", spec, **options)``."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from hardymer._registry import Registry
from hardymer.errors import ConfigError
from hardymer.models.base import Method, MethodSpec

METHODS: Registry[Method] = Registry("method")
_CONFIGS: dict[str, type] = {}


def register_method(name: str, config_cls: type) -> Callable[[type], type]:
    """Class decorator registering a :class:`Method` subclass with its config dataclass."""

    def deco(cls: type) -> type:
        METHODS.register(name)(cls)
        _CONFIGS[name] = config_cls
        return cls

    return deco


def method_config(name: str, **options: Any) -> Any:
    """The method's config dataclass with ``options`` applied (unknown keys are an error)."""
    METHODS.get(name)
    cls = _CONFIGS[name]
    known = {f.name: f for f in dataclasses.fields(cls)}
    for k in options:
        if k not in known:
            raise ConfigError(f"method {name!r} has no option {k!r}; options: {', '.join(known)}")
    return cls(**options)


def create_method(name: str, spec: MethodSpec, **options: Any) -> Method:
    """Instantiate a registered method for data described by ``spec``."""
    cfg = method_config(name, **options)
    return METHODS.get(name)(spec, cfg)


def list_methods() -> list[str]:
    return METHODS.names()


def _register_builtin() -> None:
    from hardymer.models.zero_fill import ZeroFill, ZeroFillConfig

    from hardymer.models.backbone import Backbone, BackboneConfig
    from hardymer.models.hardymer import Hardymer, HardymerConfig
    from hardymer.models.momke import MoMKE, MoMKEConfig

    register_method("zero-fill", ZeroFillConfig)(ZeroFill)
    register_method("backbone", BackboneConfig)(Backbone)
    register_method("momke", MoMKEConfig)(MoMKE)
    register_method("hardymer", HardymerConfig)(Hardymer)


_register_builtin()

__all__ = ["METHODS", "Method", "MethodSpec", "create_method", "list_methods", "method_config", "register_method"]
