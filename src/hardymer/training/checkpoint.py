"""Checkpoints: the selected state plus everything needed to rebuild and validate inputs.

Saved atomically; loaded with ``torch.load(weights_only=True)`` (no arbitrary code).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from hardymer._io import atomic_torch_save
from hardymer.data.standardize import Standardizer
from hardymer.errors import DataError, HardymerError
from hardymer.models import Method, MethodSpec, create_method

FORMAT = "hardymer-checkpoint"
VERSION = 1


def save_checkpoint(
    path: str | Path,
    method: Method,
    method_name: str,
    *,
    standardizer: Standardizer | None,
    config: dict,
    dataset: dict,
    extra: dict | None = None,
) -> None:
    """Write the checkpoint of a trained method (atomically). A dataset folder (``config.data.root``)
    is also stored absolute and relative to the checkpoint's folder (``dataset.data_root``), so that
    evaluating it works from any folder (:func:`data_root_candidates`)."""
    root = (config.get("data") or {}).get("root")
    if root:
        dataset = {**dataset, "data_root": stored_data_root(str(root), Path(path))}
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


def stored_data_root(root: str, checkpoint: Path) -> dict[str, str]:
    """The dataset folder as typed, absolute, and relative to the checkpoint's folder."""
    absolute = Path(root).expanduser().resolve()
    entry = {"typed": root, "absolute": str(absolute)}
    try:
        entry["relative"] = os.path.relpath(absolute, checkpoint.expanduser().resolve().parent)
    except ValueError:  # another drive (Windows): no relative path
        pass
    return entry


def data_root_candidates(ckpt: dict, path: str | Path) -> list[str]:
    """Where the checkpoint's dataset folder may be, best first: the stored absolute path, the path
    relative to the checkpoint's folder, the path as typed (from the current folder), and, for
    checkpoints without the stored paths, the typed path under each folder above the checkpoint."""
    typed = ((ckpt.get("config") or {}).get("data") or {}).get("root")
    stored = (ckpt.get("dataset") or {}).get("data_root") or {}
    folder = Path(path).expanduser().resolve().parent
    out: list[str] = []
    if isinstance(stored, dict):
        if stored.get("absolute"):
            out.append(str(stored["absolute"]))
        if stored.get("relative"):
            out.append(os.path.normpath(folder / str(stored["relative"])))
    if typed:
        out.append(str(typed))
        if not Path(str(typed)).is_absolute() and not stored:
            out += [str(up / str(typed)) for up in folder.parents]
    return list(dict.fromkeys(out))


def checkpoint_file(path: str | Path) -> Path:
    """``path`` itself, or for a run folder its ``checkpoint.pt`` (``DataError`` naming the runs a
    folder of several runs holds)."""
    path = Path(path)
    if not path.is_dir():
        return path
    if (path / "checkpoint.pt").is_file():
        return path / "checkpoint.pt"
    nested = sorted(str(p.relative_to(path)) for p in path.glob("*/*/checkpoint.pt"))[:4]
    if nested:
        raise DataError(
            f"a folder of several runs, not a run folder; pass one of them, e.g. "
            f"{', '.join(str(path / n) for n in nested)}",
            source=str(path),
        )
    raise DataError("a folder without checkpoint.pt (a run folder of `hardymer train` holds one)", source=str(path))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[Method, dict]:
    """Rebuild the method from a checkpoint (a ``checkpoint.pt`` or the run folder holding it);
    return it (eval mode) and the checkpoint dict."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise DataError("checkpoint not found", source=str(path))
    try:
        ckpt: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch's own text would suggest an unsafe load: say what the file is not
        raise DataError(unreadable_checkpoint(path), source=str(path)) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DataError("not a hardymer checkpoint", source=str(path), field="format")
    check_structure(ckpt, str(path))
    try:
        spec = MethodSpec(**ckpt["spec"])
        method = create_method(ckpt["method"], spec, **ckpt["method_config"])
    except (HardymerError, KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise DataError(f"cannot rebuild the method ({msg})", source=str(path), field="method_config") from None
    check_state_dict(method, ckpt["state_dict"], str(path))
    method.load_state_dict(ckpt["state_dict"])
    method.to(device).eval()
    return method, ckpt


def unreadable_checkpoint(path: Path) -> str:
    """Why ``path`` is not a checkpoint, in our words (never a library's advice to load unsafely)."""
    import zipfile

    size = path.stat().st_size
    if size == 0:
        return "not a checkpoint: the file is empty"
    if not zipfile.is_zipfile(path):
        head = path.read_bytes()[:512]
        kind = "text" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "binary data"
        return (
            f"not a checkpoint: a checkpoint is the zip archive `hardymer train` writes (checkpoint.pt); "
            f"this file is {size} bytes of {kind}"
        )
    return (
        "not a readable checkpoint: the archive holds something other than tensors and plain values "
        "(damaged, or not written by `hardymer train`)"
    )


#: top-level keys and the types every checkpoint has
REQUIRED = {"method": str, "method_config": dict, "spec": dict, "state_dict": dict, "dataset": dict, "config": dict}


def check_structure(ckpt: dict, source: str) -> None:
    """Raise ``DataError`` naming the checkpoint and the key when a part is missing or of the wrong kind."""
    for key, kind in REQUIRED.items():
        if key not in ckpt:
            raise DataError("missing key (damaged or not written by `hardymer train`)", source=source, field=key)
        if not isinstance(ckpt[key], kind):
            raise DataError(f"expected a {kind.__name__}, got {type(ckpt[key]).__name__}", source=source, field=key)
    if "standardizer" not in ckpt:
        raise DataError("missing key (damaged or not written by `hardymer train`)", source=source, field="standardizer")
    spec = ckpt["spec"]
    for key in ("dims", "output_dim", "task"):
        if key not in spec:
            raise DataError("missing key", source=source, field=f"spec.{key}")
    dims = spec["dims"]
    if (
        not isinstance(dims, dict)
        or set(dims) != {"a", "t", "v"}
        or not all(isinstance(d, int) and d >= 0 for d in dims.values())
    ):
        raise DataError(f"expected {{'a': int, 't': int, 'v': int}}, got {dims!r}", source=source, field="spec.dims")
    if spec["task"] not in ("classification", "regression"):
        raise DataError(f"unknown task {spec['task']!r}", source=source, field="spec.task")
    st = ckpt.get("standardizer")
    if st is not None:
        ok = isinstance(st, dict) and all(
            isinstance(st.get(k), dict) and set(st[k]) == set(dims) for k in ("mean", "std")
        )
        if ok:
            for k in ("mean", "std"):
                for m, v in st[k].items():
                    if not isinstance(v, (list, tuple)) or len(v) != dims[m]:
                        ok = False
        if not ok:
            raise DataError(
                "expected {'mean': {a, t, v}, 'std': {a, t, v}} with one value per feature",
                source=source,
                field="standardizer",
            )
    if not isinstance(ckpt["dataset"].get("fold", ""), str):
        raise DataError("expected a fold name", source=source, field="dataset.fold")


def check_state_dict(method: Method, state: dict, source: str) -> None:
    """Missing / unexpected weights and shape mismatches, naming the checkpoint and the first key."""
    own = method.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise DataError(f"{len(missing)} weights missing (first: {missing[0]!r})", source=source, field="state_dict")
    extra = [k for k in state if k not in own]
    if extra:
        raise DataError(f"{len(extra)} unexpected weights (first: {extra[0]!r})", source=source, field="state_dict")
    for k, v in own.items():
        got = state[k]
        if not isinstance(got, torch.Tensor):
            raise DataError(f"weight {k!r} is a {type(got).__name__}, not a tensor", source=source, field="state_dict")
        if tuple(got.shape) != tuple(v.shape):
            raise DataError(
                f"weight {k!r} has shape {tuple(got.shape)}, the method expects {tuple(v.shape)}",
                source=source,
                field="state_dict",
            )
