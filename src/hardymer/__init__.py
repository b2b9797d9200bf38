"""hardymer: multimodal emotion recognition that stays accurate when modalities are missing."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(path: Any, device: str = "cpu") -> Any:
    """Load a trained checkpoint for inference: ``hardymer.load(p).predict(audio=..., text=...)``."""
    from hardymer.inference import load as _load

    return _load(path, device=device)


__all__ = ["__version__", "load"]
