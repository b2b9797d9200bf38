"""Model-batched ``backbone``: the stage-2 network of M members computed as one.

:class:`StackedBackbone` holds the stage-2 parameters of M :class:`~hardymer.models.backbone.Backbone`
members stacked along a leading member dimension, under the members' own parameter names
(``encoders.a.proj.0.weight`` -> ``[M, D, d_a]``), and computes every member's stage-2 loss in one
pass: each linear layer is one batched matmul over the members, attention folds the members into
the batch dimension (one ``scaled_dot_product_attention`` call), layer norms and dropout act on the
stacked tensor (independent dropout draws per member, from one random stream). It reproduces
:meth:`Backbone.stage2_loss` term for term (tested to float tolerance against the members with
dropout off): post-norm transformer layers with ReLU, keys masked by padding and availability, rows
without a usable key output 0, residual fusion, the task loss over valid positions and the
reconstruction MSE of the missing modalities.

The members share one batch (same utterances and order: the conditions of one seed after a shared
stage 1), or each has its own (seeds: their batches padded to one shape, padding invalid and
unavailable, so a member's loss is its own batch's); each member has its own availability
``[M, B, L, 3]``. Inputs at positions a member does not see never reach its loss (they are neither
keys nor kept outputs), so the complete stored features are passed (once, when shared).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.models.backbone import Backbone


def stack_key(name: str) -> str:
    """The key of a member parameter ``name`` in :attr:`StackedBackbone.params` (dots are not allowed there)."""
    return name.replace(".", "/")


def batching_obstacle(members: list[Backbone]) -> str | None:
    """Why ``members`` cannot be trained as one :class:`StackedBackbone` (``None``: they can):
    every member must be a ``backbone``, or a ``hardymer`` student whose stage-2 step is the
    backbone's loss on its stacked views in one pass (``view_steps=stacked``, no ``view_chunk``),
    all of one type, config and data shape."""
    from hardymer.models.hardymer import Hardymer

    if not members:
        return "no members"
    for m in members:
        if type(m) not in (Backbone, Hardymer):
            return f"{type(m).__name__} has no model-batched form (only backbone and hardymer have)"
        if type(m) is not type(members[0]):
            return "the members are of different methods"
        if isinstance(m, Hardymer) and (m.config.view_steps != "stacked" or 0 < m.config.view_chunk < m.config.K + 1):
            return "hardymer with view_steps=sequential or view_chunk trains one step in several passes"
    first = members[0]
    for m in members[1:]:
        if m.config != first.config:
            return "the members' backbone configs differ"
        if m.spec != first.spec:
            return "the members' data shapes differ"
    if first.spec.task == "regression" and first.config.regression_loss not in ("l1", "mse"):
        return f"regression_loss {first.config.regression_loss!r} is not supported"
    return None


def stage2_parameter_names(member: Backbone) -> list[str]:
    """The names of the parameters stage 2 trains (all but the unimodal heads of stage 1)."""
    return [n for n, _ in member.named_parameters() if not n.startswith("uni_heads.")]


class StackedBackbone(nn.Module):
    """The stage-2 parameters and loss of M ``backbone`` members (see the module docstring)."""

    def __init__(self, members: list[Backbone]) -> None:
        super().__init__()
        why = batching_obstacle(members)
        if why is not None:
            raise ValueError(f"cannot stack these members: {why}")
        cfg = members[0].config
        self.M = len(members)
        self.names = stage2_parameter_names(members[0])
        #: matrices are stored as ``[M, d_in, d_out]`` (the members' ``[d_out, d_in]`` transposed), the
        #: layout ``baddbmm`` multiplies without a copy, in the forward pass and in the backward one
        self.transposed = {n for n in self.names if members[0].get_parameter(n).dim() == 2}
        self.params = nn.ParameterDict(
            {
                stack_key(n): nn.Parameter(
                    torch.stack([self.to_stack_layout(n, m.get_parameter(n).detach()) for m in members]).contiguous()
                )
                for n in self.names
            }
        )
        self.p = float(cfg.dropout)
        self.p_attn = self.p if cfg.attn_dropout is None else float(cfg.attn_dropout)
        self.heads = int(cfg.heads)
        self.depth = int(cfg.depth)
        self.eps = float(members[0].modality_encoder(MODALITIES[0]).encoder.layers[0].norm1.eps)
        self.recon_weight = float(cfg.recon_weight)
        self.regression_loss = str(cfg.regression_loss)
        self.dims = dict(members[0].spec.dims)
        self.task = members[0].spec.task

    # ------------------------------------------------------------------ parameters
    def to_stack_layout(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """A member's tensor of parameter ``name`` (a value, a gradient, an optimizer moment) in the
        stack's layout (matrices transposed)."""
        return t.t() if name in self.transposed else t

    def to_member_layout(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """One member's row of the stacked ``name`` in the member's own layout."""
        return t.t() if name in self.transposed else t

    def param(self, name: str) -> torch.Tensor:
        """The stacked parameter of the members' ``name`` (``[M, *shape]``)."""
        return self.params[stack_key(name)]

    @torch.no_grad()
    def write_back(self, members: list[Backbone], rows: list[int] | None = None) -> None:
        """Copy member ``rows[i]`` of the stack into ``members[i]`` (in place; ``rows``: all, in order)."""
        rows = list(range(self.M)) if rows is None else rows
        for n in self.names:
            stacked = self.param(n)
            for member, r in zip(members, rows, strict=True):
                member.get_parameter(n).copy_(self.to_member_layout(n, stacked[r]))

    # ------------------------------------------------------------------ network
    def _w(self, name: str, rows: torch.Tensor | None) -> torch.Tensor:
        """The stacked parameter ``name``, for the members ``rows`` only when given."""
        p = self.param(name)
        return p if rows is None else p.index_select(0, rows)

    def _linear(self, x: torch.Tensor, name: str, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``x [m, ..., d_in]`` -> ``[m, ..., d_out]`` for the members ``rows`` (default: all M)."""
        w, b = self._w(f"{name}.weight", rows), self._w(f"{name}.bias", rows)
        shape = x.shape
        out = torch.baddbmm(b.unsqueeze(1), x.reshape(shape[0], -1, shape[-1]), w)
        return out.view(*shape[:-1], w.shape[2])

    def _shared_linear(self, x: torch.Tensor, name: str, rows: torch.Tensor | None) -> torch.Tensor:
        """The members' linear layer ``name`` on one input shared by all of them: ``x [..., d_in]``
        -> ``[m, ..., d_out]`` as one matrix product with the members' weights side by side."""
        w, b = self._w(f"{name}.weight", rows), self._w(f"{name}.bias", rows)  # [m, d_in, d_out], [m, d_out]
        m, d_in, d_out = w.shape
        out = torch.addmm(b.reshape(1, m * d_out), x.reshape(-1, d_in), w.transpose(0, 1).reshape(d_in, m * d_out))
        return out.view(-1, m, d_out).transpose(0, 1).reshape(m, *x.shape[:-1], d_out)

    def _layer_norm(self, x: torch.Tensor, name: str, rows: torch.Tensor | None) -> torch.Tensor:
        w, b = self._w(f"{name}.weight", rows), self._w(f"{name}.bias", rows)
        view = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        return torch.addcmul(b.view(view), F.layer_norm(x, x.shape[-1:], eps=self.eps), w.view(view))

    def _encoder_layer(
        self, x: torch.Tensor, allowed: torch.Tensor, prefix: str, rows: torch.Tensor | None
    ) -> torch.Tensor:
        """One post-norm ``nn.TransformerEncoderLayer`` (ReLU) for ``x [m, B, L, D]`` (the members
        ``rows``); ``allowed [m*B, 1, 1, L]`` True where a key may be attended to."""
        m, B, L, D = x.shape
        h = self.heads
        qkv = torch.baddbmm(
            self._w(f"{prefix}.self_attn.in_proj_bias", rows).unsqueeze(1),
            x.reshape(m, B * L, D),
            self._w(f"{prefix}.self_attn.in_proj_weight", rows),
        )
        q, k, v = qkv.view(m * B, L, 3, h, D // h).permute(2, 0, 3, 1, 4)
        p_attn = self.p_attn if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p_attn)
        a = a.transpose(1, 2).reshape(m, B, L, D)
        out = self._linear(a, f"{prefix}.self_attn.out_proj", rows)
        x = self._layer_norm(x + F.dropout(out, self.p, self.training), f"{prefix}.norm1", rows)
        ff = F.dropout(F.relu(self._linear(x, f"{prefix}.linear1", rows)), self.p, self.training)
        ff = self._linear(ff, f"{prefix}.linear2", rows)
        return self._layer_norm(x + F.dropout(ff, self.p, self.training), f"{prefix}.norm2", rows)

    def losses(self, batch: Batch, avail: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-member stage-2 losses ``[M]`` and which members' losses depend on which parameters.

        The batch is shared by the members (``valid [B, L]``) or one per member (every tensor with
        a leading ``M``, padded to one shape); ``avail [M, B, L, 3]`` is each member's availability,
        already combined with the natural availability and padding (as
        :meth:`Batch.with_availability` does). The second result maps parameter-name prefixes to
        ``[M]`` bool: False where a separate run would get no gradient (the encoders of a modality
        a member never sees in this batch, the decoder without a missing modality to reconstruct)."""
        M = self.M
        shared = batch.valid.dim() == 2  # one batch for all members, else one per member ([M, B, L])
        B, L = batch.valid.shape[-2:]
        valid = batch.valid.unsqueeze(0).expand(M, B, L) if shared else batch.valid
        used: dict[str, torch.Tensor] = {}
        enc = []
        for j, m in enumerate(MODALITIES):
            keep = avail[..., j] & valid  # [M, B, L]
            used[f"encoders.{m}."] = keep.flatten(1).any(1)
            x = batch.x_full[m]
            D = self.param(f"encoders.{m}.proj.0.weight").shape[2]
            seen = used[f"encoders.{m}."]
            if not bool(seen.any()):  # no member sees it: skipped, as run_masked skips it
                enc.append(x.new_zeros(M, B, L, D))
                continue
            # only the members that see the modality run its encoder (a run without it skips it)
            rows = None if bool(seen.all()) else seen.nonzero().view(-1)
            k = keep if rows is None else keep.index_select(0, rows)
            allowed = k | ~k.any(-1, keepdim=True)  # a row without usable keys attends to all; output zeroed
            mask = allowed.reshape(k.shape[0] * B, 1, 1, L)
            if shared:
                p = self._shared_linear(x, f"encoders.{m}.proj.0", rows)
            else:
                p = self._linear(x if rows is None else x.index_select(0, rows), f"encoders.{m}.proj.0", rows)
            p = F.dropout(p, self.p, self.training)
            for i in range(self.depth):
                p = self._encoder_layer(p, mask, f"encoders.{m}.encoder.layers.{i}", rows)
            p = p * k.unsqueeze(-1).to(p.dtype)
            enc.append(p if rows is None else p.new_zeros(M, B, L, D).index_copy(0, rows, p))
        f = torch.cat(enc, -1)
        hid = f + F.dropout(F.relu(self._linear(f, "fuse.0")), self.p, self.training)
        out = self._linear(hid, "head")
        w = valid.to(out.dtype)
        y = batch.y.unsqueeze(0).expand(M, *batch.y.shape) if shared else batch.y
        if self.task == "classification":
            per = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1).long(), reduction="none").view(M, B, L)
        elif self.regression_loss == "l1":
            per = (out.squeeze(-1) - y.to(out.dtype)).abs()
        else:
            per = (out.squeeze(-1) - y.to(out.dtype)) ** 2
        loss = (per * w).sum((1, 2)) / w.sum((1, 2)).clamp(min=1)
        if self.recon_weight <= 0:
            used["decoder."] = torch.zeros(M, dtype=torch.bool, device=loss.device)
            return loss, used
        recon = self._linear(F.relu(self._linear(hid, "decoder.0")), "decoder.2")
        err = torch.zeros_like(w)
        cnt = torch.zeros_like(w)
        s = 0
        for j, m in enumerate(MODALITIES):
            d = self.dims[m]
            full = batch.avail_full[..., j].unsqueeze(0) if shared else batch.avail_full[..., j]
            target = batch.x_full[m].unsqueeze(0) if shared else batch.x_full[m]
            ok = ((~avail[..., j]) & full & valid).to(w.dtype)
            err = err + ((recon[..., s : s + d] - target) ** 2).mean(-1) * ok
            cnt = cnt + ok
            s += d
        has = (cnt > 0).to(w.dtype)
        rec = (err / cnt.clamp(min=1) * has).sum((1, 2)) / has.sum((1, 2)).clamp(min=1)
        used["decoder."] = has.flatten(1).any(1)
        return loss + self.recon_weight * rec, used

    def update_masks(self, used: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per stacked parameter key, the members whose copy takes this step (``[M]`` bool): those
        whose own run would have a gradient for it (see :meth:`losses`); the others are left as
        they are, optimizer state included."""
        everyone = torch.ones(self.M, dtype=torch.bool, device=next(iter(used.values())).device)
        out = {}
        for n in self.names:
            mask = everyone
            for prefix, m in used.items():
                if n.startswith(prefix):
                    mask = m
            out[stack_key(n)] = mask
        return out

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Clip each member's gradient to total norm ``max_norm`` (as ``clip_grad_norm_`` on each
        member's own parameters); the members' norms before clipping."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        norms = torch.zeros(self.M, device=grads[0].device if grads else None)
        for g in grads:
            norms += g.reshape(self.M, -1).float().pow(2).sum(1)
        norms = norms.sqrt()
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))
        return norms
