"""Evaluate a saved checkpoint on its dataset (the same fold, the saved standardisation)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from hardymer.data import Standardizer, create_dataset
from hardymer.data.batching import GroupBatcher
from hardymer.errors import DataError
from hardymer.training.checkpoint import load_checkpoint
from hardymer.training.trainer import evaluate


def evaluate_checkpoint(path: str | Path, conditions: list[str], split: str = "test",
                        root: str | None = None, device: str = "cpu") -> dict:
    """Metrics of a checkpoint on ``split`` of the dataset it was trained on, per condition."""
    method, ckpt = load_checkpoint(path, device=device)
    cfg = OmegaConf.create(ckpt["config"])
    ds = create_dataset(cfg.data.name, root=root if root is not None else cfg.data.root, **dict(cfg.data.options))
    if ds.dims != ckpt["spec"]["dims"]:
        raise DataError(f"dataset dims {ds.dims} differ from the checkpoint's {ckpt['spec']['dims']}", source=str(path))
    fold = ds.fold(ckpt["dataset"]["fold"])
    if ckpt["standardizer"] is not None:
        ds = Standardizer.from_state_dict(ckpt["standardizer"]).transform(ds)
    b = GroupBatcher(ds, fold.part(split), batch_size=int(cfg.train.batch_size), max_len=cfg.train.max_len, device=device)
    res = evaluate(method, b, conditions, ds.task)
    return res if len(conditions) > 1 else {conditions[0]: res}
