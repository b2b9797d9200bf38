"""Dropout with masks from random bits (``train.fast_dropout``): cheaper masks, same semantics.

``torch.nn.functional.dropout`` on CPU fills a float tensor with Bernoulli draws, divides it by
``1 - p`` and keeps that float tensor for the backward pass. :class:`BitsDropout` instead draws
64 random bits per four elements (``Tensor.random_`` over the full int64 range, from torch's
generator, so ``torch.manual_seed`` makes it deterministic), reads them as four uniform int16
values and keeps an element when its value is below a threshold. Semantics:

* keep probability ``q = round((1 - p) * 2**16) / 2**16`` (the requested ``1 - p`` rounded to a
  multiple of 2^-16, |q - (1 - p)| <= 2^-17), elements kept independently;
* inverted scaling by ``1 / q`` (the *realised* keep probability), so E[output] = input exactly;
* identity in eval mode and for ``p = 0``.

The random stream differs from torch's dropout (other draws from the same seeded generator), so
results are not bit-identical to ``nn.Dropout``; that is why the switch is off by default. The
backward pass keeps a bool mask (1 byte per element instead of 4). Dropout on the attention
weights inside ``nn.MultiheadAttention`` (``scaled_dot_product_attention``) is not replaced.
"""

from __future__ import annotations

import torch
from torch import nn

_LEVELS = 1 << 16


def keep_threshold(p: float) -> int:
    """The int16 threshold t: an element is kept when its uniform int16 value is < t."""
    return round((1.0 - p) * _LEVELS) - _LEVELS // 2


def keep_probability(p: float) -> float:
    """The realised keep probability q of :func:`bits_dropout` for drop probability ``p``."""
    return (keep_threshold(p) + _LEVELS // 2) / _LEVELS


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A bool mask of ``shape``, each element True with probability :func:`keep_probability`."""
    n = 1
    for s in shape:
        n *= int(s)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    bits = words.view(torch.int16)[:n].view(shape)
    return bits < keep_threshold(p)


class _MaskedScale(torch.autograd.Function):
    """``x * mask * scale`` saving only the bool ``mask`` for the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return x * mask.to(x.dtype).mul_(scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (mask,) = ctx.saved_tensors
        return grad * mask.to(grad.dtype).mul_(ctx.scale), None, None


def bits_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout of ``x`` with a random-bits mask (see the module docstring)."""
    if not training or p == 0.0:
        return x
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    q = keep_probability(p)
    if q == 0.0:
        return x * 0.0
    return _MaskedScale.apply(x, keep_mask(x.shape, p, x.device), 1.0 / q)


class BitsDropout(nn.Dropout):
    """``nn.Dropout`` whose training-mode mask comes from :func:`bits_dropout` (same ``p``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bits_dropout(x, self.p, self.training)


def use_fast_dropout(module: nn.Module) -> int:
    """Replace every ``nn.Dropout`` submodule of ``module`` in place by a :class:`BitsDropout` of
    the same ``p`` (no parameters or buffers change, so state dicts are unaffected); return how
    many were replaced."""
    n = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, BitsDropout(child.p))
                n += 1
    return n
