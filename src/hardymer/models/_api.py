"""The method registry (as timm's / torchvision's ``models/_api.py``): a method registers itself
where it is defined, with its config dataclass and its metadata, and is looked up by name.

```python
@register_method("zero-fill", ZeroFillConfig, paper="...", protocols=["fixed", "unified", "random"])
class ZeroFill(Method): ...

create_method("zero-fill", spec, dropout=0.2)
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from hardymer._registry import Registry
from hardymer.errors import ConfigError
from hardymer.models.base import Method, MethodSpec

M = TypeVar("M", bound=type)

METHODS: Registry[Method] = Registry("method")


def register_method(name: str, config_cls: type, **meta: Any) -> Callable[[M], M]:
    """Class decorator registering a :class:`Method` subclass under ``name`` with its config
    dataclass and metadata (``paper``, ``protocols``, ``differs``: what differs from the release)."""

    def deco(cls: M) -> M:
        METHODS.register(name, config=config_cls, **meta)(cls)
        return cls

    return deco


def method_config_class(name: str) -> type:
    """The config dataclass of a registered method (``ConfigError`` naming the known ones if unknown)."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; methods: {', '.join(list_methods())}" + METHODS.suggestion(name))
    return METHODS.meta(name)["config"]


def method_config(name: str, **options: Any) -> Any:
    """The method's config dataclass with ``options`` applied (unknown keys are an error)."""
    cls = method_config_class(name)
    known = {f.name for f in dataclasses.fields(cls)}
    for k in options:
        if k not in known:
            raise ConfigError(f"method {name!r} has no option {k!r}; options: {', '.join(known)}")
    return cls(**options)


def create_method(name: str, spec: MethodSpec, **options: Any) -> Method:
    """Instantiate a registered method for data described by ``spec``."""
    cfg = method_config(name, **options)
    return METHODS.get(name)(spec, cfg)


def list_methods() -> list[str]:
    """Names of the registered methods, sorted."""
    return METHODS.names()


def method_info(name: str) -> dict[str, Any]:
    """The metadata a method was registered with (without its config class)."""
    method_config_class(name)
    return {k: v for k, v in METHODS.meta(name).items() if k != "config"}
