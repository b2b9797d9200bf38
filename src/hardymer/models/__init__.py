"""Methods, looked up by name: ``create_method("zero-fill", spec, **options)``."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from hardymer._registry import Registry
from hardymer.errors import ConfigError
from hardymer.models.base import Method, MethodSpec

METHODS: Registry[Method] = Registry("method")
_CONFIGS: dict[str, type] = {}
#: metadata per registered method (e.g. ``paper``, ``protocols``), next to its builder
METHOD_INFO: dict[str, dict[str, Any]] = {}


def register_method(name: str, config_cls: type, meta: dict[str, Any] | None = None) -> Callable[[type], type]:
    """Class decorator registering a :class:`Method` subclass with its config dataclass and
    optional metadata (stored in :data:`METHOD_INFO`)."""

    def deco(cls: type) -> type:
        METHODS.register(name)(cls)
        _CONFIGS[name] = config_cls
        METHOD_INFO[name] = dict(meta or {})
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


def method_info(name: str) -> dict[str, Any]:
    """The metadata a method was registered with (``{}`` when none was given)."""
    METHODS.get(name)
    return dict(METHOD_INFO.get(name, {}))


def _register_builtin() -> None:
    from hardymer.models.zero_fill import ZeroFill, ZeroFillConfig

    from hardymer.models.backbone import Backbone, BackboneConfig
    from hardymer.models.gru_context import GruContext, GruContextConfig
    from hardymer.models.hardymer import Hardymer, HardymerConfig
    from hardymer.models.momke import MoMKE, MoMKEConfig

    both = ["fixed", "unified"]
    register_method("zero-fill", ZeroFillConfig,
                    {"paper": "zero-imputation baseline (missing modalities set to 0, availability flags)",
                     "protocols": both})(ZeroFill)
    register_method("backbone", BackboneConfig,
                    {"paper": "Zuo et al. 2025, HARDY-MER backbone without MHE/RDCL (arXiv 2508.06800)",
                     "protocols": both})(Backbone)
    register_method("momke", MoMKEConfig,
                    {"paper": "Xu et al. 2024, MoMKE: mixture of modality knowledge experts (ACM MM 2024)",
                     "protocols": both})(MoMKE)
    register_method("hardymer", HardymerConfig,
                    {"paper": "Zuo et al. 2025, HARDY-MER (arXiv 2508.06800)", "protocols": both})(Hardymer)
    register_method("gru-context", GruContextConfig,
                    {"paper": "Poria et al. 2017, context-dependent sentiment analysis (bc-LSTM, ACL 2017)",
                     "protocols": both})(GruContext)


_register_builtin()

__all__ = ["METHODS", "METHOD_INFO", "Method", "MethodSpec", "create_method", "list_methods", "method_config",
           "method_info", "register_method"]
