"""Adam and AdamW with torch.optim's arithmetic, without importing ``torch._dynamo``.

``torch.optim.Optimizer`` imports ``torch._dynamo`` when its first parameter group is added
(``add_param_group`` and ``step`` are wrapped by ``torch._disable_dynamo``): about 75 MB of
resident memory and 1.5 s per process, for a compiler this package never uses. :class:`Adam`
performs the update of ``torch.optim.Adam`` / ``torch.optim.AdamW``'s single-tensor path (the one
torch takes for CPU tensors: ``foreach``, ``fused``, ``amsgrad``, ``maximize``, ``capturable``
off) operation for operation, so parameters after any number of steps are bit-equal to torch's
(tested), and :meth:`Adam.state_dict` has torch's layout (either optimizer loads the other's).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

#: hyper-parameter keys of torch.optim.Adam's param groups (kept in state_dict for compatibility)
_TORCH_GROUP_FLAGS = {
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": None,
}


class Adam:
    """Adam (``decoupled=False``, L2 penalty added to the gradient) or AdamW (``decoupled=True``).

    The subset of the ``torch.optim.Optimizer`` interface the trainers use: ``param_groups``,
    ``state``, ``zero_grad``, ``step``, ``state_dict``, ``load_state_dict``.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(
                f"invalid Adam hyper-parameters: lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}"
            )
        self.param_groups: list[dict[str, Any]] = [
            {
                "params": params,
                "lr": float(lr),
                "betas": (float(betas[0]), float(betas[1])),
                "eps": float(eps),
                "weight_decay": float(weight_decay),
                **_TORCH_GROUP_FLAGS,
                "decoupled_weight_decay": bool(decoupled),
            }
        ]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients (set them to None by default, as torch does)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            decoupled = group["decoupled_weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if grad.is_sparse:
                    raise RuntimeError("Adam does not support sparse gradients")
                state = self.state.get(param)
                if not state:
                    state = self.state[param] = {
                        "step": torch.tensor(0.0, dtype=_scalar_dtype()),
                        "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
                    }
                exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                step_t += 1
                if wd != 0:
                    if decoupled:
                        param.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(param, alpha=wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = step_t.item()
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim's layout: per-parameter state keyed by position, groups with index lists."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            index.update({id(p): len(index) + i for i, p in enumerate(group["params"]) if id(p) not in index})
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` or by ``torch.optim.Adam/AdamW``."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError("optimizer state does not match the parameters (group or parameter count)")
        by_index = {i: p for g, own in zip(groups, self.param_groups) for i, p in zip(g["params"], own["params"])}
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {
                "step": s["step"].detach().to("cpu", _scalar_dtype()).clone(),
                "exp_avg": s["exp_avg"].detach().to(p.device, p.dtype).clone(),
                "exp_avg_sq": s["exp_avg_sq"].detach().to(p.device, p.dtype).clone(),
            }
        for g, own in zip(groups, self.param_groups):
            for k, v in g.items():
                if k != "params":
                    own[k] = tuple(v) if k == "betas" else v


def _scalar_dtype() -> torch.dtype:
    """torch.optim's dtype of the step counter (float64 only under a float64 default dtype)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class StackedAdam:
    """:class:`Adam` over parameters stacked along a leading member dimension ``[M, ...]``: member
    ``i``'s slice takes exactly the update its own :class:`Adam` would (same arithmetic, its own
    step count), and a member masked out of a step (``masks``) is left untouched, moments and step
    count included, as its own optimizer leaves a parameter without a gradient.

    ``member_states`` (optional) are the members' own optimizer states to continue from, per
    stacked parameter a list of M entries (``None``: no state yet, as before a first step).
    """

    def __init__(
        self,
        params: dict[str, torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        member_states: dict[str, list[dict[str, torch.Tensor] | None]] | None = None,
    ) -> None:
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        self.params = params
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self.weight_decay, self.decoupled = float(weight_decay), bool(decoupled)
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        for name, p in params.items():
            m = p.shape[0]
            step = torch.zeros(m, dtype=torch.float64)
            exp_avg, exp_avg_sq = torch.zeros_like(p), torch.zeros_like(p)
            for i, s in enumerate((member_states or {}).get(name) or [None] * m):
                if s:
                    step[i] = float(s["step"])
                    exp_avg[i] = s["exp_avg"].to(p.device, p.dtype)
                    exp_avg_sq[i] = s["exp_avg_sq"].to(p.device, p.dtype)
            self.state[name] = {"step": step, "exp_avg": exp_avg.detach(), "exp_avg_sq": exp_avg_sq.detach()}

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def member_state(self, name: str, i: int) -> dict[str, torch.Tensor] | None:
        """Member ``i``'s state of parameter ``name`` in :class:`Adam`'s layout (``None``: no step yet)."""
        s = self.state[name]
        if float(s["step"][i]) == 0:
            return None
        return {
            "step": torch.tensor(float(s["step"][i]), dtype=_scalar_dtype()),
            "exp_avg": s["exp_avg"][i].clone(),
            "exp_avg_sq": s["exp_avg_sq"][i].clone(),
        }

    @torch.no_grad()
    def step(self, masks: dict[str, torch.Tensor] | None = None) -> None:
        """One update of every parameter that has a gradient, for the members its mask selects."""
        for name, param in self.params.items():
            if param.grad is None:
                continue
            st = self.state[name]
            sel = masks[name].cpu() if masks is not None else torch.ones(param.shape[0], dtype=torch.bool)
            if not bool(sel.any()):
                continue
            view = (-1,) + (1,) * (param.dim() - 1)
            grad = param.grad
            st["step"] += sel.to(st["step"].dtype)
            if bool(sel.all()):  # every member steps: Adam's in-place update with per-member step sizes
                self._step_all(param, grad, st, view)
                continue
            # some members step: the same update on their rows only, written back in place
            rows = sel.nonzero().view(-1).to(param.device)
            sub_p = param.detach().index_select(0, rows)
            sub = {
                "step": st["step"][sel],
                "exp_avg": st["exp_avg"].index_select(0, rows),
                "exp_avg_sq": st["exp_avg_sq"].index_select(0, rows),
            }
            self._step_all(sub_p, grad.index_select(0, rows), sub, view)
            param.detach().index_copy_(0, rows, sub_p)
            st["exp_avg"].index_copy_(0, rows, sub["exp_avg"])
            st["exp_avg_sq"].index_copy_(0, rows, sub["exp_avg_sq"])

    def _step_all(self, param: torch.Tensor, grad: torch.Tensor, st: dict[str, torch.Tensor], view: tuple) -> None:
        beta1, beta2 = self.betas
        lr, wd, eps = self.lr, self.weight_decay, self.eps
        if wd != 0:
            if self.decoupled:
                param.mul_(1 - lr * wd)
            else:
                grad = grad.add(param, alpha=wd)
        exp_avg, exp_avg_sq = st["exp_avg"], st["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        steps = st["step"]
        if float(steps.min()) == float(steps.max()):  # one step count: Python-float corrections, as Adam
            step = float(steps[0])
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
            return
        bc1 = (1 - beta1**steps).to(param.dtype).to(param.device).view(view)
        bc2_sqrt = (1 - beta2**steps).sqrt().to(param.dtype).to(param.device).view(view)
        denom = (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps)
        param.sub_(exp_avg / denom * (lr / bc1))

    def select(self, params: dict[str, torch.nn.Parameter], rows: list[int]) -> StackedAdam:
        """This optimizer for a stack of the members ``rows`` (``params``: the new stacked parameters)."""
        out = StackedAdam.__new__(StackedAdam)
        out.params = params
        out.lr, out.betas, out.eps, out.weight_decay, out.decoupled = (
            self.lr,
            self.betas,
            self.eps,
            self.weight_decay,
            self.decoupled,
        )
        idx = torch.tensor(rows, dtype=torch.long)
        out.state = {
            n: {k: v[idx.to(v.device)].clone() for k, v in s.items()} for n, s in self.state.items() if n in params
        }
        return out
