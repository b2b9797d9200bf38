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


@register_dataset("gcnet")
def _gcnet(root: str | Path | None = None, variant: str | None = None, **kw: Any) -> MultimodalDataset:
    from hardymer.data.gcnet import load_gcnet

    if variant is None:
        raise ValueError("gcnet needs variant=iemocap4|iemocap6|mosi|mosei (or use the iemocap4, iemocap6, "
                         "gcnet-mosi, gcnet-mosei datasets)")
    if root is None:
        raise ValueError("gcnet needs --root (the folder holding the label pickle and features/)")
    return load_gcnet(root, variant, **kw)


def _gcnet_fixed(variant: str) -> Callable[..., MultimodalDataset]:
    def factory(root: str | Path | None = None, **kw: Any) -> MultimodalDataset:
        from hardymer.data.gcnet import _variant, load_gcnet

        given = kw.pop("variant", None)
        if given is not None and _variant(given) != _variant(variant):
            raise ValueError(f"this dataset is the GCNet variant {variant!r}; got variant={given!r}")
        if root is None:
            raise ValueError(f"{variant} needs --root (the folder holding the label pickle and features/)")
        return load_gcnet(root, variant, **kw)

    factory.__name__ = f"_gcnet_{variant}"
    return factory


register_dataset("iemocap4")(_gcnet_fixed("iemocap4"))
register_dataset("iemocap6")(_gcnet_fixed("iemocap6"))
register_dataset("gcnet-mosi")(_gcnet_fixed("mosi"))
register_dataset("gcnet-mosei")(_gcnet_fixed("mosei"))


@register_dataset("npz")
def _npz(root: str | Path | None = None, path: str | Path | None = None, **kw: Any) -> MultimodalDataset:
    from hardymer.data.npz import load_npz

    if root is not None and path is not None and Path(root) != Path(path):
        raise ValueError("npz: give the file as root or path=, not both")
    file = path if path is not None else root
    if file is None:
        raise ValueError("npz needs --root (or path=) pointing at the .npz file")
    return load_npz(file, **kw)


@register_dataset("mmsa")
def _mmsa(root: str | Path | None = None, path: str | Path | None = None, **kw: Any) -> MultimodalDataset:
    from hardymer.data.mmsa import load_mmsa

    if root is not None and path is not None and Path(root) != Path(path):
        raise ValueError("mmsa: give the pickle as root or path=, not both")
    file = path if path is not None else root
    if file is None:
        raise ValueError("mmsa needs --root: the MMSA pickle (e.g. unaligned_50.pkl) or its folder")
    return load_mmsa(file, **kw)


#: registry name -> (module, function) a factory forwards its ``**options`` to (for option checks)
_LOADERS = {
    "synthetic": ("hardymer.data.synthetic", "make_synthetic"),
    "mosi-poria": ("hardymer.data.mosi_poria", "load_mosi_poria"),
    "gcnet": ("hardymer.data.gcnet", "load_gcnet"),
    "iemocap4": ("hardymer.data.gcnet", "load_gcnet"),
    "iemocap6": ("hardymer.data.gcnet", "load_gcnet"),
    "gcnet-mosi": ("hardymer.data.gcnet", "load_gcnet"),
    "gcnet-mosei": ("hardymer.data.gcnet", "load_gcnet"),
    "npz": ("hardymer.data.npz", "load_npz"),
    "mmsa": ("hardymer.data.mmsa", "load_mmsa"),
}


def loader_of(name: str) -> Callable[..., MultimodalDataset] | None:
    """The function a built-in dataset's factory passes its options to (``None`` for others)."""
    import importlib

    if name not in _LOADERS:
        return None
    module, fn = _LOADERS[name]
    return getattr(importlib.import_module(module), fn)
