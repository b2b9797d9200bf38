"""Run configuration, grouped by concern (data / method / train), as OmegaConf structured configs.

A run's resolved config is saved next to its outputs (``config.yaml``) so it can be reproduced.
YAML presets live in ``configs/`` (e.g. ``configs/train/mosi-poria.yaml``) and merge over the
defaults; command-line flags merge last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf


@dataclass
class DataConfig:
    name: str = "synthetic"
    root: Optional[str] = None
    fold: str = "0"
    standardize: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class MethodConfig:
    name: str = "zero-fill"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-5
    grad_clip: float = 1.0
    patience: int = 10
    select_metric: str = "auto"  # auto: wa (classification) / mae (regression)
    select_on: str = "val"  # "test" reproduces the published (optimistic) protocol
    max_len: Optional[int] = None
    bucket: bool = False  # length-bucketed training batches (changes batch composition, hence results)
    bucket_batches: int = 1  # batches per length bucket (1 = least padding)
    device: str = "cpu"
    num_threads: Optional[int] = None


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    protocol: str = "fixed"
    condition: str = "atv"
    seed: int = 0
    out: str = "runs/default"
    cache_dir: Optional[str] = "runs/.cache"  # teachers, critics, hardness (None: no cache)


def default_config() -> Any:
    """The default structured config (an OmegaConf ``DictConfig``)."""
    return OmegaConf.structured(RunConfig)


def load_config(*sources: str | Path | dict | None) -> Any:
    """Merge YAML files / dicts over the defaults, validating keys and types."""
    cfg = default_config()
    for src in sources:
        if src is None:
            continue
        if isinstance(src, (str, Path)):
            src = OmegaConf.load(str(src))
        cfg = OmegaConf.merge(cfg, src)
    return cfg


def to_container(cfg: Any) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def to_yaml(cfg: Any) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def config_hash(cfg: Any) -> str:
    """Hash of a resolved config, ignoring where outputs go (``out``) and the device/threads."""
    import hashlib
    import json

    d = to_container(cfg) if not isinstance(cfg, dict) else json.loads(json.dumps(cfg))
    d.pop("out", None)
    d.pop("cache_dir", None)
    tr = dict(d.get("train", {}))
    tr.pop("device", None)
    tr.pop("num_threads", None)
    if not tr.get("bucket", False):  # off is the computation made before the option existed
        tr.pop("bucket", None)
        tr.pop("bucket_batches", None)
    d["train"] = tr
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
