"""Checkpoints: the selected state plus everything needed to rebuild and validate inputs.

Saved atomically; loaded with ``torch.load(weights_only=True)`` (no arbitrary code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hardymer._io import atomic_torch_save
from hardymer.data.standardize import Standardizer
from hardymer.errors import DataError
from hardymer.models import Method, MethodSpec, create_method

FORMAT = "hardymer-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, method: Method, method_name: str, *, standardizer: Standardizer | None,
                    config: dict, dataset: dict, extra: dict | None = None) -> None:
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "method": method_name,
        "method_config": method.config_dict(),
        "spec": {"dims": dict(method.spec.dims), "output_dim": method.spec.output_dim, "task": method.spec.task},
        "state_dict": {k: v.detach().cpu() for k, v in method.state_dict().items()},
        "standardizer": standardizer.state_dict() if standardizer is not None else None,
        "dataset": dataset,
        "config": config,
        "extra": extra or {},
    }
    atomic_torch_save(path, obj)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[Method, dict]:
    """Rebuild the method from a checkpoint; return it (eval mode) and the checkpoint dict."""
    path = Path(path)
    if not path.is_file():
        raise DataError("checkpoint not found", source=str(path))
    try:
        ckpt: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise DataError(f"not a readable checkpoint ({type(exc).__name__}: {exc})", source=str(path)) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DataError("not a hardymer checkpoint", source=str(path), field="format")
    spec = MethodSpec(**ckpt["spec"])
    method = create_method(ckpt["method"], spec, **ckpt["method_config"])
    method.load_state_dict(ckpt["state_dict"])
    method.to(device).eval()
    return method, ckpt
