"""Evaluate a saved checkpoint on its dataset (the same fold, the saved standardisation)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import OmegaConf

from hardymer.conditions import Condition
from hardymer.data import Standardizer, create_dataset
from hardymer.data.batching import GroupBatcher
from hardymer.data.protocol import stored_mask
from hardymer.errors import ConfigError, DataError
from hardymer.inference.compat import check_modalities
from hardymer.training.checkpoint import checkpoint_file, data_root_candidates, load_checkpoint
from hardymer.training.precision import autocast
from hardymer.training.trainer import evaluate


def evaluate_checkpoint(
    path: str | Path,
    conditions: Sequence[str],
    split: str = "test",
    root: str | None = None,
    device: str = "cpu",
    strict: bool = False,
    rates: Sequence[float] | None = None,
    mask: str | None = None,
    mask_seed: int | None = None,
) -> dict:
    """Metrics of a checkpoint on ``split`` of the dataset it was trained on, per condition.

    A fixed-protocol model evaluated under another condition than it was trained on gets one
    warning naming both modality sets (``strict``: a ``ConfigError`` instead). With ``rates`` the
    conditions are the random protocol's stored masks of ``split`` at those missing rates (labels
    ``r0.30``; generator ``mask`` and ``mask_seed``, by default the checkpoint's own, else
    ``independent`` and 0): the masks the runs of that protocol were evaluated on. Empty ``rates``:
    the rate a random-protocol checkpoint was trained at (``ConfigError`` for another protocol)."""
    path = checkpoint_file(path)  # a run folder: its checkpoint.pt
    method, ckpt = load_checkpoint(path, device=device)
    if split not in ("train", "val", "test"):
        raise ConfigError(f"--split {split}: use train, val or test")
    if rates is not None and len(rates) == 0:
        rates = [trained_rate(ckpt, path)]
    if rates is None:
        conditions = [Condition(c) for c in conditions]  # no-op for parsed ones (the CLI's)
        check_modalities(ckpt, conditions, strict=strict, source=str(path))
    try:
        cfg = OmegaConf.create(ckpt["config"])
        _ = (cfg.data.name, cfg.data.root, cfg.data.options, cfg.data.fold, cfg.train.batch_size, cfg.train.max_len)
    except Exception as exc:
        raise DataError(
            f"unusable run config ({' '.join(str(exc).split())})", source=str(path), field="config"
        ) from None
    data_root = root if root is not None else find_data_root(ckpt, path)
    try:
        ds = create_dataset(cfg.data.name, root=data_root, **dict(cfg.data.options))
    except DataError as exc:
        if root is not None or "not found" not in str(exc):
            raise
        raise DataError(f"{exc} (the dataset folder stored in the checkpoint; --root DIR overrides it)") from None
    if ds.dims != ckpt["spec"]["dims"]:
        raise DataError(f"dataset dims {ds.dims} differ from the checkpoint's {ckpt['spec']['dims']}", source=str(path))
    fold = ds.fold(ckpt["dataset"].get("fold", cfg.data.fold))
    ds.check_fold(fold, (split,))
    if rates is not None:
        own = cfg.get("missing") or {}
        kind = mask if mask is not None else str(own.get("mask", "independent"))
        seed = mask_seed if mask_seed is not None else int(own.get("mask_seed", 0))
        parts = {split: fold.part(split)}
        masks = [stored_mask(ds.name, fold.name, len(ds), parts, float(r), kind, seed) for r in rates]
        shown = {  # the modality sets the stored masks show (a fixed-protocol model warns, as for conditions)
            "".join(m for m, keep in zip("atv", row, strict=True) if keep)
            for c in masks
            for row in c.parts[split]["mask"].astype(bool)
        }
        conditions = list(masks)
        check_modalities(ckpt, sorted(shown), strict=strict, source=str(path))
    else:
        ds.check_conditions(conditions, fold.part(split), where=f" of the {split} part of fold {fold.name!r}")
    if ckpt["standardizer"] is not None:
        ds = Standardizer.from_state_dict(ckpt["standardizer"]).transform(ds)
    b = GroupBatcher(
        ds, fold.part(split), batch_size=int(cfg.train.batch_size), max_len=cfg.train.max_len, device=device
    )
    with autocast(cfg.train, torch.device(device)):  # the precision the run was evaluated in
        res = evaluate(method, b, conditions, ds.task)
    return res if len(conditions) > 1 else {conditions[0]: res}


def trained_rate(ckpt: dict, path: str | Path) -> float:
    """The missing rate a random-protocol checkpoint was trained at (``ConfigError`` for another protocol)."""
    cfg = ckpt.get("config") or {}
    if cfg.get("protocol") != "random":
        raise ConfigError(
            f"--protocol random: {path} was trained under the {cfg.get('protocol', '?')} protocol; give --missing-rate"
        )
    return float((cfg.get("missing") or {}).get("rate", 0.0))


def find_data_root(ckpt: dict, path: str | Path) -> str | None:
    """The checkpoint's dataset folder as found from here (:func:`data_root_candidates`): the first
    candidate that exists, else the folder as stored (its loader then says it is not found)."""
    candidates = data_root_candidates(ckpt, path)
    for c in candidates:
        if Path(c).exists():
            return c
    return candidates[0] if candidates else None
