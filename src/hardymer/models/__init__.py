"""Methods, looked up by name: ``create_method("zero-fill", spec, **options)``.

Each method registers itself in its own module (``@register_method`` from :mod:`hardymer.models._api`);
importing this package imports the built-in ones.
"""

from __future__ import annotations

from hardymer.models import backbone, gcnet, gru_context, hardymer, mmin, momke, zero_fill  # noqa: F401  (registration)
from hardymer.models._api import (
    METHODS,
    create_method,
    list_methods,
    method_config,
    method_config_class,
    method_info,
    register_method,
)
from hardymer.models.base import Method, MethodSpec

__all__ = [
    "METHODS",
    "Method",
    "MethodSpec",
    "create_method",
    "list_methods",
    "method_config",
    "method_config_class",
    "method_info",
    "register_method",
]
