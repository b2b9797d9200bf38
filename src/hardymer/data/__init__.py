"""Datasets: the canonical data model, loaders looked up by name, batching, standardisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from hardymer._registry import Registry
from hardymer.data.batching import Batch, GroupBatcher, group_index
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.data.standardize import Standardizer

DATASETS: Registry[MultimodalDataset] = Registry("dataset")
register_dataset = DATASETS.register


def create_dataset(name: str, root: str | Path | None = None, **options: Any) -> MultimodalDataset:
    """Load a dataset by registry name, e.g. ``create_dataset("mosi-poria", root="...")``."""
    factory: Callable[..., MultimodalDataset] = DATASETS.get(name)
    if root is not None:
        options["root"] = root
    return factory(**options)


def list_datasets() -> list[str]:
    return DATASETS.names()


@register_dataset("synthetic")
def _synthetic(root: str | None = None, **kw: Any) -> MultimodalDataset:
    from hardymer.data.synthetic import make_synthetic

    return make_synthetic(**kw)


@register_dataset("mosi-poria")
def _mosi_poria(root: str | Path | None = None, **kw: Any) -> MultimodalDataset:
    from hardymer.data.mosi_poria import load_mosi_poria

    if root is None:
        raise ValueError("mosi-poria needs --root (the folder holding transcripts.csv), e.g. ../shared/data/mosi-poria")
    return load_mosi_poria(root, **kw)


__all__ = [
    "Batch", "GroupBatcher", "MultimodalDataset", "Split", "Standardizer", "DATASETS",
    "create_dataset", "group_index", "list_datasets", "register_dataset",
]
