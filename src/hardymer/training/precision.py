"""Numeric precision of forward passes: ``train.precision`` fp32 (default) or bf16.

bf16 runs forward passes under ``torch.autocast(device_type, dtype=torch.bfloat16)`` on CPU and
CUDA; parameters (master weights), gradients, optimizer state and losses stay fp32.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

import torch

from hardymer.errors import ConfigError

PRECISIONS = ("fp32", "bf16")


def precision_of(train_cfg: Any) -> str:
    """``train.precision`` (fp32 when the config predates the key); ConfigError on other values."""
    p = str(getattr(train_cfg, "precision", "fp32") or "fp32").lower()
    if p not in PRECISIONS:
        raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {p!r}")
    return p


def autocast(train_cfg: Any, device: torch.device) -> AbstractContextManager:
    """The context forward passes run in: bf16 autocast on ``device``, or nothing for fp32."""
    if precision_of(train_cfg) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
