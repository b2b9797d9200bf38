"""Datasets: the canonical data model, loaders looked up by name, batching, standardisation.

Each loader under :mod:`hardymer.data.loaders` registers itself (``@register_dataset``, in
:mod:`hardymer.data.registry`); importing this package imports the built-in ones.
"""

from __future__ import annotations

from hardymer.data.batching import Batch, GroupBatcher, group_index
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.data.loaders import gcnet, mmsa, mosi_poria, npz, synthetic  # noqa: F401  (registration)
from hardymer.data.registry import (
    DATASETS,
    create_dataset,
    dataset_option_defaults,
    list_datasets,
    loader_of,
    register_dataset,
)
from hardymer.data.standardize import Standardizer

__all__ = [
    "Batch",
    "GroupBatcher",
    "MultimodalDataset",
    "Split",
    "Standardizer",
    "DATASETS",
    "create_dataset",
    "dataset_option_defaults",
    "group_index",
    "list_datasets",
    "loader_of",
    "register_dataset",
]
