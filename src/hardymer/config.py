"""Run configuration, grouped by concern (data / method / train), as OmegaConf structured configs.

A run's resolved config is saved next to its outputs (``config.yaml``) so it can be reproduced.
YAML presets live in ``configs/`` (e.g. ``configs/train/mosi-poria.yaml``) and merge over the
defaults; command-line flags merge last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from omegaconf import OmegaConf

from hardymer._cache import train_key
from hardymer.errors import ConfigError


@dataclass
class DataConfig:
    name: str = "synthetic"
    root: str | None = None
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
    max_len: int | None = None
    bucket: bool = False  # length-bucketed training batches (changes batch composition, hence results)
    bucket_batches: int = 1  # batches per length bucket (1 = least padding)
    device: str = "cpu"
    num_threads: int | None = None
    # stage 2 lasts this many optimizer steps (whole epochs: ceil(steps / steps per epoch); a
    # sequential view step counts once per view); None: stage 2 = the rest of ``epochs``
    stage2_steps: int | None = None
    optimizer: str = "adamw"  # adamw | adam (the authors' release)
    evaluate_test: bool = True  # false: the test split is never read (tuning)
    # also evaluate the test part after every stage-2 epoch and record it (history ``test_<metric>``,
    # metrics.json ``test_selected``: the epoch the field's releases would pick on test); it never
    # feeds selection, early stopping or the checkpoint
    record_test_curve: bool = False
    # train stage 1 once per (data, fold, seed, initial weights, stage-1 config) and start every
    # condition's stage 2 from it (on-disk cache under cache_dir); results are identical either way
    share_stage1: bool = True
    precision: str = "fp32"  # fp32 | bf16 (autocast forward passes; fp32 master weights and losses)
    fast_dropout: bool = False  # dropout masks from random bits (models.dropout; other random stream)
    # bench / train: up to this many runs that differ only in their condition (fixed protocol, one
    # seed, backbone) train stage 2 as one model-batched network (training.members); 1: run by run.
    # The dropout draws differ from run-by-run training, so it is part of the config hash when > 1
    batch_members: int = 1


@dataclass
class MissingConfig:
    """The random missing-rate protocol (``protocol: random``): each (utterance, modality) entry is
    missing with ``rate``; ``mask`` names the generator (``independent`` or ``cpm``, GCNet's);
    validation and test masks are drawn once from ``mask_seed`` (never from the run's seed)."""

    rate: float = 0.0
    mask: str = "independent"
    mask_seed: int = 0


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    protocol: str = "fixed"
    condition: str = "atv"
    missing: MissingConfig = field(default_factory=MissingConfig)  # protocol random only
    seed: int = 0
    out: str = "runs/default"
    cache_dir: str | None = "runs/.cache"  # teachers, critics, hardness (None: no cache)


def default_config() -> Any:
    """The default structured config (an OmegaConf ``DictConfig``)."""
    return OmegaConf.structured(RunConfig)


def load_config(*sources: str | Path | dict | None) -> Any:
    """Merge YAML files / dicts over the defaults, validating keys and types.

    A file that is missing, not YAML, not a mapping, or has an unknown key or a value of the wrong
    type raises ``ConfigError`` naming the file and the key.
    """
    from omegaconf import DictConfig
    from omegaconf.errors import OmegaConfBaseException

    cfg = default_config()
    for src in sources:
        if src is None:
            continue
        where = "config"
        part: DictConfig | dict
        if isinstance(src, (str, Path)):
            where = f"--config {src}"
            if not Path(src).is_file():
                raise ConfigError(f"{where}: file not found")
            try:
                loaded = OmegaConf.load(str(src))
            except Exception as exc:  # yaml.YAMLError and OmegaConf's own grammar errors
                raise ConfigError(f"{where}: not valid YAML ({' '.join(str(exc).split())})") from None
            if not isinstance(loaded, DictConfig):
                raise ConfigError(
                    f"{where}: expected a mapping of config keys (data:, method:, train:, ...) "
                    f"at the top level, got {type(loaded).__name__}"
                )
            part = loaded
        else:
            part = src
        try:
            cfg = OmegaConf.merge(cfg, part)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{where}: {omegaconf_message(exc)}") from None
    return cfg


def omegaconf_message(exc: Exception) -> str:
    """OmegaConf's error in one line: the first line of its message plus the offending key."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    key = getattr(exc, "full_key", None)
    return f"{key}: {first}" if key and key not in first else first


def to_container(cfg: Any) -> dict:
    """``cfg`` as plain Python containers, interpolations resolved."""
    return cast(dict, OmegaConf.to_container(cfg, resolve=True))


def to_yaml(cfg: Any) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def set_run_condition(cfg: Any, condition: str) -> None:
    """Point a run config at one evaluation condition of a grid: a condition name (fixed protocol),
    ``"all"`` (unified: the config names ``atv``) or a missing-rate label like ``r0.30`` (random: it
    sets ``missing.rate``)."""
    from hardymer.conditions import label_rate

    rate = label_rate(str(condition))
    if rate is not None:
        cfg.missing.rate = float(rate)
        cfg.condition = "atv"
    else:
        cfg.condition = str(condition) if condition != "all" else "atv"


def run_condition(cfg: Any) -> str:
    """The evaluation-condition label of a run config: its condition (fixed), ``"all"`` (unified) or
    its missing-rate label (random)."""
    from hardymer.conditions import rate_label

    if cfg.protocol == "random":
        return rate_label(float(cfg.missing.rate))
    return str(cfg.condition) if cfg.protocol == "fixed" else "all"


def batches_method(method: str) -> bool:
    """Whether ``train.batch_members`` trains runs of ``method`` model-batched (any protocol):
    backbone and hardymer (stage 2 of their runs of several conditions and seeds; hardymer's
    teachers too under the fixed protocol)."""
    return method in ("backbone", "hardymer")


def config_hash(cfg: Any) -> str:
    """Hash of a resolved config, ignoring where outputs go (``out``) and the device/threads."""
    import hashlib
    import json

    d = to_container(cfg) if not isinstance(cfg, dict) else json.loads(json.dumps(cfg))
    d.pop("out", None)
    d.pop("cache_dir", None)
    if d.get("protocol") != "random":  # the missing-rate settings change nothing under fixed / unified
        d.pop("missing", None)
    d["train"] = train_key(d.get("train", {}), "run")
    method = (d.get("method") or {}).get("name")
    if not batches_method(str(method)):  # batch_members changes only these runs
        d["train"].pop("batch_members", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
