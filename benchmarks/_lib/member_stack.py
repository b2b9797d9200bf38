"""M ``backbone`` networks as one model-batched network, for ``benchmarks/bench_members.py``.

Benchmark code, not part of the package (the product path is :mod:`hardymer.models.stacked`; this copy keeps
the committed figures of `bench_members.py` reproducible). :class:`BackboneStack` holds the parameters of M
:class:`hardymer.models.backbone.Backbone` members stacked along a leading member dimension and
computes the backbone's stage-2 loss for all of them at once: every linear layer is one
``baddbmm`` over the members, attention folds the members into the batch dimension (one
``scaled_dot_product_attention`` call for all of them), layer norms and dropout act on the
stacked tensor (independent dropout draws per member). It reproduces ``Backbone.stage2_loss``
(post-norm transformer layers with ReLU, keys masked by padding and availability, rows without a
usable key output 0, residual fusion, cross-entropy or L1 task loss over valid positions, reconstruction MSE of the
missing modalities); :func:`check_equal` verifies that on real batches before anything is timed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hardymer.conditions import MODALITIES
from hardymer.data import Standardizer
from hardymer.data.batching import Batch
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.models import MethodSpec, create_method
from hardymer.models.backbone import Backbone
from hardymer.training.members import stack_batches


def seeded_members(
    ds: MultimodalDataset, m: int, device: str = "cpu", **options: object
) -> tuple[list[Backbone], MultimodalDataset, Split]:
    """``m`` backbone members of ``ds`` (member ``i`` drawn after ``torch.manual_seed(i)``, with
    backbone ``options``), the dataset standardised on its first fold's training part, and that fold."""
    fold = ds.folds[0]
    ds = Standardizer.fit(ds, fold.train).transform(ds)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    members = []
    for i in range(m):
        torch.manual_seed(i)
        members.append(create_method("backbone", spec, **options).to(device))
    return members, ds, fold


def _stack(tensors: list[torch.Tensor]) -> nn.Parameter:
    return nn.Parameter(torch.stack([t.detach().clone() for t in tensors]))


class StackedLinear(nn.Module):
    """M linear layers: ``x [M, ..., d_in] -> [M, ..., d_out]``, one ``baddbmm``."""

    def __init__(self, layers: list[nn.Linear]) -> None:
        super().__init__()
        self.weight = _stack([lin.weight.t() for lin in layers])  # [M, d_in, d_out]
        self.bias = _stack([lin.bias.unsqueeze(0) for lin in layers])  # [M, 1, d_out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        out = torch.baddbmm(self.bias, x.reshape(shape[0], -1, shape[-1]), self.weight)
        return out.view(*shape[:-1], out.shape[-1])


class StackedLayerNorm(nn.Module):
    """M layer norms over the last dimension of ``x [M, B, L, D]``."""

    def __init__(self, norms: list[nn.LayerNorm]) -> None:
        super().__init__()
        self.eps = norms[0].eps
        self.weight = _stack([n.weight.view(1, 1, -1) for n in norms])
        self.bias = _stack([n.bias.view(1, 1, -1) for n in norms])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, F.layer_norm(x, x.shape[-1:], eps=self.eps), self.weight)


class StackedEncoderLayer(nn.Module):
    """M post-norm ``nn.TransformerEncoderLayer`` (ReLU, batch first)."""

    def __init__(self, layers: list[nn.TransformerEncoderLayer], dropout: float, attn_dropout: float) -> None:
        super().__init__()
        att = [lay.self_attn for lay in layers]
        self.heads = att[0].num_heads
        self.qkv = StackedLinear([_as_linear(a.in_proj_weight, a.in_proj_bias) for a in att])
        self.out = StackedLinear([a.out_proj for a in att])
        self.ff1 = StackedLinear([lay.linear1 for lay in layers])
        self.ff2 = StackedLinear([lay.linear2 for lay in layers])
        self.norm1 = StackedLayerNorm([lay.norm1 for lay in layers])
        self.norm2 = StackedLayerNorm([lay.norm2 for lay in layers])
        self.p, self.p_attn = dropout, attn_dropout

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """``x [M, B, L, D]``; ``allowed [M*B, 1, 1, L]`` True where a key may be attended to."""
        M, B, L, D = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(M * B, L, 3, h, D // h).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=self.p_attn if self.training else 0.0)
        a = a.transpose(1, 2).reshape(M, B, L, D)
        x = self.norm1(x + F.dropout(self.out(a), self.p, self.training))
        ff = self.ff2(F.dropout(F.relu(self.ff1(x)), self.p, self.training))
        return self.norm2(x + F.dropout(ff, self.p, self.training))


def _as_linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(weight.shape[1], weight.shape[0])
    lin.weight, lin.bias = nn.Parameter(weight.detach()), nn.Parameter(bias.detach())
    return lin


class BackboneStack(nn.Module):
    """The stage-2 network and loss of M backbone members (see the module docstring)."""

    def __init__(self, members: list[Backbone]) -> None:
        super().__init__()
        cfg = members[0].config
        self.M = len(members)
        self.p = float(cfg.dropout)
        p_attn = self.p if cfg.attn_dropout is None else float(cfg.attn_dropout)
        self.recon_weight = float(cfg.recon_weight)
        self.dims = dict(members[0].spec.dims)
        self.task = members[0].spec.task
        if self.task == "regression" and getattr(cfg, "regression_loss", "l1") != "l1":
            raise ValueError("BackboneStack computes the L1 regression loss only")
        self.proj = nn.ModuleDict(
            {m: StackedLinear([b.modality_encoder(m).proj[0] for b in members]) for m in MODALITIES}
        )
        depth = len(members[0].modality_encoder(MODALITIES[0]).encoder.layers)
        self.layers = nn.ModuleDict(
            {
                m: nn.ModuleList(
                    StackedEncoderLayer([b.modality_encoder(m).encoder.layers[i] for b in members], self.p, p_attn)
                    for i in range(depth)
                )
                for m in MODALITIES
            }
        )
        self.fuse = StackedLinear([b.fuse[0] for b in members])
        self.head = StackedLinear([b.head for b in members])
        self.dec1 = StackedLinear([b.decoder[0] for b in members])
        self.dec2 = StackedLinear([b.decoder[2] for b in members])

    def losses(self, batch: Batch) -> torch.Tensor:
        """Per-member stage-2 losses ``[M]`` of a stacked batch (every tensor with a leading ``M``)."""
        M, B, L = batch.valid.shape
        enc = []
        for j, m in enumerate(MODALITIES):
            keep = batch.avail[..., j] & batch.valid  # [M, B, L]
            if not keep.any():  # missing for every member (a fixed condition): skipped, as run_masked does
                enc.append(batch.x_full[m].new_zeros(M, B, L, self.proj[m].weight.shape[-1]))
                continue
            allowed = keep | ~keep.any(-1, keepdim=True)  # a row without usable keys attends to all, output zeroed
            mask = allowed.reshape(M * B, 1, 1, L)
            p = F.dropout(self.proj[m](batch.x[m]), self.p, self.training)
            for layer in self.layers[m]:
                p = layer(p, mask)
            enc.append(p * keep.unsqueeze(-1).to(p.dtype))
        f = torch.cat(enc, -1)
        hid = f + F.dropout(F.relu(self.fuse(f)), self.p, self.training)
        out = self.head(hid)
        w = batch.valid.to(out.dtype)
        if self.task == "classification":
            per = F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1).long(), reduction="none")
            per = per.view(M, B, L)
        else:
            per = (out.squeeze(-1) - batch.y.to(out.dtype)).abs()
        task = (per * w).sum((1, 2)) / w.sum((1, 2)).clamp(min=1)
        if self.recon_weight <= 0:
            return task
        recon = self.dec2(F.relu(self.dec1(hid)))
        err = torch.zeros_like(w)
        cnt = torch.zeros_like(w)
        s = 0
        for j, m in enumerate(MODALITIES):
            d = self.dims[m]
            ok = ((~batch.avail[..., j]) & batch.avail_full[..., j] & batch.valid).to(w.dtype)
            err = err + ((recon[..., s : s + d] - batch.x_full[m]) ** 2).mean(-1) * ok
            cnt = cnt + ok
            s += d
        has = (cnt > 0).to(w.dtype)
        per_pos = err / cnt.clamp(min=1)
        rec = (per_pos * has).sum((1, 2)) / has.sum((1, 2)).clamp(min=1)
        return task + self.recon_weight * rec

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Clip each member's gradient to total norm ``max_norm`` (as ``clip_grad_norm_`` per model)."""
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        norms = torch.zeros(self.M, device=grads[0].device if grads else None)
        for g in grads:
            norms += g.reshape(self.M, -1).pow(2).sum(1)
        norms = norms.sqrt()
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
        return norms


def check_equal(members: list[Backbone], batches: list[Batch], atol: float = 1e-4) -> float:
    """Largest |difference| between the stack's per-member loss and gradient of the fusion layer
    and the members' own ``stage2_loss`` (dropout off) on ``batches`` (one per member); raises
    when it exceeds ``atol``."""
    stack = BackboneStack(members).eval()
    losses = stack.losses(stack_batches(batches))
    losses.sum().backward()
    worst = 0.0
    for i, (mem, b) in enumerate(zip(members, batches, strict=True)):
        mem.eval().zero_grad()
        ref = mem.stage2_loss(b)
        ref.backward()
        worst = max(worst, abs(float(ref.detach()) - float(losses[i].detach())))
        assert stack.fuse.weight.grad is not None and mem.fuse[0].weight.grad is not None
        worst = max(worst, float((stack.fuse.weight.grad[i] - mem.fuse[0].weight.grad.t()).abs().max()))
    if not math.isfinite(worst) or worst > atol:
        raise AssertionError(f"model-batched backbone differs from the members by {worst:.3g} (> {atol})")
    return worst
