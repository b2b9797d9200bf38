"""A generated dataset in the project's ``npz`` format (docs/data-formats.md, section ``npz``).

Groups (dialogues) of a few utterances each, stored in shuffled row order with an explicit ``order``;
fixed-width string arrays (no object arrays); optional masks with missing rows holding NaN (allowed
where the mask is 0); one fold through ``split`` or several through ``fold_names`` + ``folds``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DIMS = (4, 6, 3)  # audio, text, video


def make_npz_arrays(
    seed: int = 0,
    groups: int = 8,
    per_group: tuple[int, int] = (2, 5),
    task: str = "classification",
    classes: int = 3,
    dims: tuple[int, int, int] = DIMS,
    masks: bool = True,
    folds: int = 1,
) -> dict[str, np.ndarray]:
    """The arrays of one dataset (``numpy.savez`` keywords). Groups are split about 4:1:1 into
    train/val/test (at least one each); with ``folds > 1`` fold ``k`` tests on a rotated set of groups."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(per_group[0], per_group[1] + 1, size=groups)
    group_ids = [f"dlg{g:02d}" for g in range(groups)]
    g_of_row = np.repeat(np.array(group_ids), sizes)
    order = np.concatenate([np.arange(k) for k in sizes])
    n = int(sizes.sum())
    perm = rng.permutation(n)  # rows need not be grouped: order says where each one belongs
    g_of_row, order = g_of_row[perm], order[perm]
    out: dict[str, np.ndarray] = {}
    for key, d in zip(("audio", "text", "video"), dims):
        out[key] = rng.normal(size=(n, d)).astype(np.float32)
    if masks:
        for key in ("audio", "text", "video"):
            mask = (rng.random(n) > 0.2).astype(np.uint8)
            out[key][mask == 0] = np.nan  # allowed: those rows are marked unavailable
            out[f"mask_{key}"] = mask
    if task == "classification":
        out["labels"] = rng.integers(0, classes, size=n).astype(np.int64)
        out["class_names"] = np.array([f"class{k}" for k in range(classes)])
    else:
        out["labels"] = np.round(rng.uniform(-3.0, 3.0, size=n), 2)
        out["label_range"] = np.array([-3.0, 3.0])
    out["groups"] = g_of_row
    out["order"] = order.astype(np.int64)
    out["utt_ids"] = np.array([f"{g}_{k:02d}" for g, k in zip(g_of_row, order)])
    out["speakers"] = rng.choice(np.array(["F", "M"]), size=n)

    n_val = max(1, groups // 6)

    def parts(shift: int) -> np.ndarray:
        rot = group_ids[shift:] + group_ids[:shift]
        where = {g: "train" for g in rot[: groups - 2 * n_val]}
        where.update({g: "val" for g in rot[groups - 2 * n_val : groups - n_val]})
        where.update({g: "test" for g in rot[groups - n_val :]})
        return np.array([where[g] for g in g_of_row])

    if folds == 1:
        out["split"] = parts(0)
    else:
        out["fold_names"] = np.array([f"fold{k}" for k in range(folds)])
        out["folds"] = np.stack([parts(k * n_val) for k in range(folds)])
    return out


def write_npz(path: Path, arrays: dict[str, np.ndarray] | None = None, **kw) -> Path:
    """``numpy.savez`` of ``arrays`` (default ``make_npz_arrays(**kw)``) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # a file object: savez appends no ``.npz`` to the name
        np.savez(fh, **(arrays if arrays is not None else make_npz_arrays(**kw)))
    return path
