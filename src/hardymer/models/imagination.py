"""Building blocks of the imagination-network methods (MMIN, IF-MMIN, CIF-MMIN).

- :func:`fc_stack`: the fully connected stack used as utterance-level encoder and as classifier;
- :class:`ResidualAE`: the cascade residual autoencoder (MMIN) and its invariant-feature-guided
  variants (IF-MMIN's IF-IM, CIF-MMIN's module);
- :func:`cmd`: the central moment discrepancy between two feature batches;
- :func:`pair_info_nce`: a CLIP-style InfoNCE loss between two modalities' features;
- :func:`frozen_copy`: a parameter-frozen copy of a module, used as the stage-2 teacher.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hardymer.errors import ConfigError

#: wirings of :class:`ResidualAE`
AE_MODES = ("cascade", "chained", "chained-residual")


def fc_stack(d_in: int, layers: Sequence[int], d_out: int, dropout: float) -> nn.Sequential:
    """``Linear -> ReLU -> Dropout`` for every width of ``layers``, then a linear layer to ``d_out``."""
    mods: list[nn.Module] = []
    for width in layers:
        mods += [nn.Linear(d_in, int(width)), nn.ReLU(), nn.Dropout(dropout)]
        d_in = int(width)
    mods.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*mods)


def _block_encoder(dim: int, layers: Sequence[int]) -> nn.Sequential:
    """``dim -> layers[0] -> ... -> layers[-1]``, LeakyReLU between layers, none after the last."""
    mods: list[nn.Module] = []
    d = dim
    for i, width in enumerate(layers):
        mods.append(nn.Linear(d, int(width)))
        if i < len(layers) - 1:
            mods.append(nn.LeakyReLU())
        d = int(width)
    return nn.Sequential(*mods)


def _block_decoder(dim: int, layers: Sequence[int]) -> nn.Sequential:
    """The mirror of :func:`_block_encoder`: ReLU between layers, the last one linear."""
    widths = [int(w) for w in reversed(list(layers))] + [dim]
    mods: list[nn.Module] = []
    for i in range(len(widths) - 1):
        mods.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


class ResidualAE(nn.Module):
    """``n_blocks`` autoencoder blocks ``dim -> layers -> dim`` and a transition MLP ``dim -> dim -> dim``.

    Wirings (``mode``), with ``e_k``/``d_k`` the encoder/decoder of block k and ``o_k = d_k(e_k(i_k))``:

    - ``cascade`` (MMIN): ``i_1 = x``, ``i_k = x + o_1 + ... + o_{k-1}``; output ``T(i_n + o_n)``;
    - ``chained`` (IF-MMIN's IF-IM): ``i_1 = x + g``, ``i_k = o_{k-1} + g``; output ``T(o_n)``;
    - ``chained-residual`` (CIF-MMIN): inputs as ``chained``; output ``T(i_n + o_n)``;

    where ``g`` is the guiding (invariant / consistent) feature. Returns the output and the ``n``
    latents ``e_k(i_k)`` concatenated on the last dimension.
    """

    def __init__(self, dim: int, layers: Sequence[int], n_blocks: int, mode: str = "cascade") -> None:
        super().__init__()
        if mode not in AE_MODES:
            raise ConfigError(f"autoencoder mode must be one of {', '.join(AE_MODES)}, got {mode!r}")
        if n_blocks < 1 or not layers:
            raise ConfigError(
                f"the imagination autoencoder needs n_blocks >= 1 and ae_layers, got {n_blocks}, {layers}"
            )
        self.mode = mode
        self.encoders = nn.ModuleList(_block_encoder(dim, layers) for _ in range(n_blocks))
        self.decoders = nn.ModuleList(_block_decoder(dim, layers) for _ in range(n_blocks))
        self.transition = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.latent_dim = int(layers[-1]) * n_blocks

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "cascade":
            g = torch.zeros_like(x)
        elif guide is None:
            raise ValueError(f"ResidualAE mode {self.mode!r} needs a guiding feature")
        else:
            g = guide
        latents = []
        x_in = x if self.mode == "cascade" else x + g
        x_out = None
        for k, (enc, dec) in enumerate(zip(self.encoders, self.decoders)):
            if k > 0:
                assert x_out is not None
                x_in = x_in + x_out if self.mode == "cascade" else x_out + g
            lat = enc(x_in)
            x_out = dec(lat)
            latents.append(lat)
        assert x_out is not None
        out = self.transition(x_out if self.mode == "chained" else x_in + x_out)
        return out, torch.cat(latents, dim=-1)


def cmd(x1: torch.Tensor, x2: torch.Tensor, n_moments: int = 5) -> torch.Tensor:
    """Central moment discrepancy of two batches ``[N, D]`` / ``[M, D]``: the L2 distance of their
    means plus, for k = 2..``n_moments``, the L2 distance of their k-th central moments
    (per-dimension means of ``(x - mean)^k``). The form of MISA / IF-MMIN (no interval scaling)."""
    m1, m2 = x1.mean(0), x2.mean(0)
    out = torch.linalg.vector_norm(m1 - m2)
    c1, c2 = x1 - m1, x2 - m2
    for k in range(2, n_moments + 1):
        out = out + torch.linalg.vector_norm(c1.pow(k).mean(0) - c2.pow(k).mean(0))
    return out


def pair_info_nce(
    z1: torch.Tensor, z2: torch.Tensor, scale: torch.Tensor, exclude_positive: bool = True
) -> torch.Tensor:
    """Symmetric InfoNCE between ``z1`` and ``z2`` ``[N, D]`` (row i of each is the same utterance):
    features L2-normalised, logits ``scale · z1 z2ᵀ``. ``exclude_positive``: the denominator of row i
    sums over the other utterances only (``-s_ii + logsumexp_{j≠i} s_ij``); else cross-entropy
    over all N (CLIP). The mean of both directions."""
    a, b = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    logits = scale * a @ b.t()
    n = logits.shape[0]
    if not exclude_positive:
        target = torch.arange(n, device=logits.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
    eye = torch.eye(n, dtype=torch.bool, device=logits.device)
    pos = logits.diagonal()
    neg_rows = logits.masked_fill(eye, float("-inf")).logsumexp(1)
    neg_cols = logits.t().masked_fill(eye, float("-inf")).logsumexp(1)
    return ((neg_rows - pos).mean() + (neg_cols - pos).mean()) / 2


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` in eval mode with every parameter frozen (``requires_grad=False``)."""
    out = copy.deepcopy(module).eval()
    out.requires_grad_(False)
    return out


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over all elements, or over the elements where ``mask`` is True (0 when none)."""
    if mask is None:
        return F.mse_loss(pred, target)
    w = mask.to(pred.dtype)
    return ((pred - target) ** 2 * w).sum() / w.sum().clamp(min=1.0)
