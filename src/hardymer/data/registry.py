"""The dataset registry: every loader registers itself where it is defined, with the function its
factory forwards ``--data-opt`` options to; ``create_dataset(name, root, **options)`` looks it up.

```python
@register_dataset("npz", loader=load_npz)
def _npz(root=None, path=None, **kw): ...
```
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hardymer._registry import Registry
from hardymer.data.dataset import MultimodalDataset

DATASETS: Registry[MultimodalDataset] = Registry("dataset")
#: shown for an option that has no default (the loader needs it, or the dataset sets it)
NO_DEFAULT = "(required or set by the dataset)"
#: shown for an option forwarded further than the loader (e.g. synthetic's private scenario)
FORWARDED = "(scenario option)"


def register_dataset(
    *names: str, loader: Callable[..., Any] | None = None, extra_options: Sequence[str] = ()
) -> Callable[[Callable[..., MultimodalDataset]], Callable[..., MultimodalDataset]]:
    """Decorator registering a dataset factory ``(root=None, **options) -> MultimodalDataset`` under
    ``names``; ``loader`` is the function it forwards its options to and ``extra_options`` the
    options that loader forwards further (both for option checks and ``hardymer list``)."""
    return DATASETS.register(*names, loader=loader, extra_options=tuple(extra_options))


def create_dataset(name: str, root: str | Path | None = None, **options: Any) -> MultimodalDataset:
    """Load a dataset by registry name, e.g. ``create_dataset("mosi-poria", root="...")``."""
    factory: Callable[..., MultimodalDataset] = DATASETS.get(name)
    if root is not None:
        options["root"] = root
    return factory(**options)


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return DATASETS.names()


def loader_of(name: str) -> Callable[..., Any] | None:
    """The function a dataset's factory passes its options to (``None`` when not declared)."""
    return DATASETS.meta(name).get("loader")


def dataset_option_defaults(name: str) -> tuple[dict[str, Any], bool]:
    """``({option: default}, open_ended)`` of a registered dataset: the keyword parameters of its
    factory and of its loader (without ``root``; :data:`NO_DEFAULT` where there is none), the
    loader's ``extra_options`` (:data:`FORWARDED`); ``open_ended`` when it takes any keyword."""
    meta = DATASETS.meta(name)
    extra = tuple(meta.get("extra_options") or ())
    opts: dict[str, Any] = {}
    open_ended = False
    for fn in (DATASETS.get(name), meta.get("loader")):
        if fn is None:
            continue
        params = list(inspect.signature(fn).parameters.values())
        open_ended = any(p.kind is p.VAR_KEYWORD for p in params) and not (fn is meta.get("loader") and extra)
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "root" and p.name not in opts:
                opts[p.name] = NO_DEFAULT if p.default is p.empty else p.default
    for n in extra:
        opts.setdefault(n, FORWARDED)
    return opts, open_ended
