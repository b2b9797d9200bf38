"""Numeric precision of forward passes: ``train.precision`` fp32 (default) or bf16.

bf16 runs forward passes under ``torch.autocast(device_type, dtype=torch.bfloat16)`` on CPU and
CUDA; parameters (master weights), gradients, optimizer state and losses stay fp32. On CPU,
attention under bf16 uses torch's math kernel: the fused CPU kernel (taken only when the
attention dropout is 0, e.g. the release recipe) is about 2× slower in bf16 at these sequence
lengths (forward + backward, 64 × 2 heads × 40 × 128: 26.4 vs 12.2 ms, ``benchmarks/README.md``).
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from types import TracebackType
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


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); without it (e.g. AVX2 only)
    torch emulates bf16 matrix multiplies, far slower than fp32 (17× per stage-2 epoch measured on
    an AVX2 CPU, ``benchmarks/README.md``)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def slow_bf16_warning(train_cfg: Any, device: torch.device) -> str | None:
    """A one-line warning when ``train.precision=bf16`` would run emulated on this CPU, else ``None``."""
    if precision_of(train_cfg) != "bf16" or device.type != "cpu" or cpu_has_native_bf16():
        return None
    return (
        f"train.precision=bf16 on a CPU without native bf16 ({torch.backends.cpu.get_cpu_capability()}): "
        "bf16 is emulated here and much slower than fp32; use train.precision=fp32 on this machine"
    )


def autocast(train_cfg: Any, device: torch.device) -> AbstractContextManager:
    """The context forward passes run in: bf16 autocast on ``device``, or nothing for fp32."""
    if precision_of(train_cfg) == "fp32":
        return contextlib.nullcontext()
    if device.type != "cpu":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return _CpuBf16()


class _CpuBf16:
    """bf16 autocast on CPU with the math attention kernel; reusable (entered once per forward)."""

    def __enter__(self) -> None:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(torch.autocast(device_type="cpu", dtype=torch.bfloat16))
        self._stack.enter_context(sdpa_kernel(SDPBackend.MATH))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self._stack.__exit__(exc_type, exc, tb)
