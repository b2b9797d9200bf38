"""The canonical in-memory multimodal dataset every loader produces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hardymer.conditions import MODALITIES, MODALITY_NAMES, Condition
from hardymer.errors import ConfigError, DataError

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Split:
    """One fold: disjoint index arrays into the dataset for train / validation / test."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def part(self, which: str) -> np.ndarray:
        """Indices of ``"train"``, ``"val"`` (alias ``"valid"``/``"validation"``) or ``"test"``."""
        key = {"valid": "val", "validation": "val"}.get(which, which)
        if key not in ("train", "val", "test"):
            raise ValueError(f"unknown split part {which!r}; use train, val or test")
        return getattr(self, key)


@dataclass
class MultimodalDataset:
    """Utterance-level features of three modalities with availability masks, labels and groups.

    Attributes:
        features: ``{"a"|"t"|"v": float32 array [N, d_m]}``; rows of unavailable modalities are 0.
        available: bool ``[N, 3]``, natural availability of (a, t, v) per utterance.
        labels: int64 class ids ``[N]`` (classification) or float32 scores ``[N]`` (regression).
        groups: group id per utterance (dialogue / video), opaque strings.
        order: position of the utterance inside its group (sorting key).
        utt_ids: unique utterance ids, opaque strings.
        folds: named splits (one for MOSI, five for IEMOCAP).
        meta: free-form provenance (paths, options); not per utterance.
        utt_meta: per-utterance annotations ``{name: array [N, ...]}`` that are not model inputs,
            e.g. the synthetic testbed's true ``hard`` flag (diagnostics only).
    """

    name: str
    task: Task
    features: dict[str, np.ndarray]
    available: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    order: np.ndarray
    utt_ids: np.ndarray
    folds: list[Split]
    class_names: list[str] | None = None
    label_range: tuple[float, float] | None = None
    speakers: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    utt_meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def source(self) -> str | None:
        """The file or folder the data was read from (``meta["source"]``, set by the file loaders), if any."""
        src = self.meta.get("source") if isinstance(self.meta, dict) else None
        return str(src) if src else None

    @property
    def origin(self) -> str:
        """How errors name this dataset: its name and, when known, its source (``mosi-poria (/data/mosi)``)."""
        src = self.source
        return f"{self.name} ({src})" if src else self.name

    @property
    def dims(self) -> dict[str, int]:
        return {m: int(self.features[m].shape[1]) for m in MODALITIES}

    @property
    def absent_modalities(self) -> list[str]:
        """Modalities with no stored features at all (unavailable for every utterance)."""
        return [m for j, m in enumerate(MODALITIES) if not self.available[:, j].any()]

    def check_condition(self, condition: str) -> None:
        """Raise ``ConfigError`` when ``condition`` needs a modality this dataset lacks entirely."""
        need = [m for m in self.absent_modalities if m in Condition(condition)]
        if need:
            names = ", ".join(MODALITY_NAMES[m] for m in need)
            raise ConfigError(
                f"condition {condition!r} needs {names}, which dataset {self.name!r} does not have "
                f"(no utterance has {names} features); use a condition without "
                f"{', '.join(need)}"
            )

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names is not None else None

    @property
    def output_dim(self) -> int:
        """Number of model outputs: classes, or 1 for regression."""
        return len(self._class_names()) if self.task == "classification" else 1

    def _class_names(self) -> list[str]:
        """The class names of classification data (``validate`` requires them)."""
        if self.class_names is None:
            raise DataError("classification data needs class_names", source=self.origin, field="class_names")
        return self.class_names

    def fold(self, which: int | str = 0) -> Split:
        """A fold by position or name."""
        if isinstance(which, str) and not which.isdigit():
            for s in self.folds:
                if s.name == which:
                    return s
            raise KeyError(f"{self.origin}: unknown fold {which!r}; folds: {[s.name for s in self.folds]}")
        i = int(which)
        if not 0 <= i < len(self.folds):
            raise KeyError(f"{self.origin}: fold {i} out of range (0..{len(self.folds) - 1})")
        return self.folds[i]

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check shapes, finiteness, label ranges and fold consistency; raise ``DataError``."""
        src = self.origin
        n = self.labels.shape[0]
        if self.labels.ndim != 1:
            raise DataError(f"labels must be 1-D, got shape {self.labels.shape}", source=src, field="labels")
        if set(self.features) != set(MODALITIES):
            raise DataError(
                f"features must have keys {MODALITIES}, got {sorted(self.features)}", source=src, field="features"
            )
        for m in MODALITIES:
            x = self.features[m]
            if x.ndim != 2 or x.shape[0] != n:
                raise DataError(f"expected shape [{n}, d], got {x.shape}", source=src, field=f"features.{m}")
            if x.dtype != np.float32:
                self.features[m] = x = x.astype(np.float32)
            bad = np.zeros(n, dtype=bool)  # checked in row blocks: no [N, d] temporary
            for start in range(0, n, 65_536):
                bad[start : start + 65_536] = ~np.isfinite(x[start : start + 65_536]).all(axis=1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{int(bad.sum())} rows contain NaN/inf (first: utterance {self.utt_ids[i]!r})",
                    source=src,
                    field=f"features.{m}",
                )
        if self.available.shape != (n, len(MODALITIES)):
            raise DataError(f"expected shape [{n}, 3], got {self.available.shape}", source=src, field="available")
        self.available = self.available.astype(bool)
        for name in ("groups", "order", "utt_ids"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise DataError(f"expected shape [{n}], got {arr.shape}", source=src, field=name)
        for key, arr in self.utt_meta.items():
            arr = np.asarray(arr)
            if arr.ndim < 1 or arr.shape[0] != n:
                raise DataError(
                    f"expected an array with {n} rows, got shape {arr.shape}", source=src, field=f"utt_meta.{key}"
                )
            self.utt_meta[key] = arr
        if len(set(self.utt_ids.tolist())) != n:
            raise DataError("utterance ids are not unique", source=src, field="utt_ids")
        if self.task == "classification":
            if self.class_names is None:
                raise DataError("classification data needs class_names", source=src, field="class_names")
            if not np.issubdtype(self.labels.dtype, np.integer):
                raise DataError(f"class labels must be integers, got {self.labels.dtype}", source=src, field="labels")
            self.labels = self.labels.astype(np.int64)
            k = len(self.class_names)
            out = (self.labels < 0) | (self.labels >= k)
            if out.any():
                i = int(np.flatnonzero(out)[0])
                raise DataError(
                    f"label {self.labels[i]} of utterance {self.utt_ids[i]!r} out of range 0..{k - 1}",
                    source=src,
                    field="labels",
                )
        elif self.task == "regression":
            self.labels = self.labels.astype(np.float32)
            if not np.isfinite(self.labels).all():
                raise DataError("labels contain NaN/inf", source=src, field="labels")
            if self.label_range is not None:
                lo, hi = self.label_range
                out = (self.labels < lo) | (self.labels > hi)
                if out.any():
                    i = int(np.flatnonzero(out)[0])
                    raise DataError(
                        f"label {self.labels[i]} of utterance {self.utt_ids[i]!r} outside [{lo}, {hi}]",
                        source=src,
                        field="labels",
                    )
        else:
            raise DataError(f"task must be classification or regression, got {self.task!r}", source=src, field="task")
        if not self.folds:
            raise DataError("dataset has no folds", source=src, field="folds")
        for s in self.folds:
            parts = [np.asarray(s.train), np.asarray(s.val), np.asarray(s.test)]
            for part, arr in zip(("train", "val", "test"), parts):
                if arr.size and (arr.min() < 0 or arr.max() >= n):
                    raise DataError(f"fold {s.name!r}: {part} indices out of range", source=src, field="folds")
            if len(parts[0]) == 0:
                raise DataError(f"fold {s.name!r} has an empty training part", source=src, field="folds")
            if (
                np.intersect1d(parts[0], parts[1]).size
                or np.intersect1d(parts[0], parts[2]).size
                or np.intersect1d(parts[1], parts[2]).size
            ):
                raise DataError(f"fold {s.name!r}: train/val/test overlap", source=src, field="folds")
            for part, arr in zip(("train", "val", "test"), parts):
                gs = set(self.groups[arr].tolist())
                for other, arr2 in zip(("train", "val", "test"), parts):
                    if other <= part:
                        continue
                    if gs & set(self.groups[arr2].tolist()):
                        raise DataError(
                            f"fold {s.name!r}: a group is in both {part} and {other}", source=src, field="folds"
                        )
        # a feature row of an unavailable modality must be zero: models rely on it
        for j, m in enumerate(MODALITIES):
            miss = ~self.available[:, j]
            if miss.any():
                self.features[m][miss] = 0.0

    def check_fold(self, split: Split, parts: tuple[str, ...] = ("train", "val", "test")) -> None:
        """Raise ``DataError`` when a part a run needs is empty ("fold 'default' has no validation utterances")."""
        words = {"train": "training", "val": "validation", "test": "test"}
        for p in parts:
            if len(split.part(p)) == 0:
                raise DataError(f"fold {split.name!r} has no {words[p]} utterances", source=self.origin, field="folds")

    def without_empty_training_rows(self, split: Split) -> tuple[Split, int]:
        """``split`` with the training utterances that have no modality at all left out, and their number.

        The policy (docs/data-formats.md): such utterances are not trained on (there is no input to
        learn from), are kept in validation and test (metrics stay over the whole split), and are
        refused by ``predict``.
        """
        import dataclasses

        tr = np.asarray(split.train)
        keep = self.available[tr].any(axis=1)
        dropped = int((~keep).sum())
        if dropped == 0:
            return split, 0
        if not keep.any():
            raise DataError(
                f"fold {split.name!r}: no training utterance has any modality", source=self.origin, field="available"
            )
        return dataclasses.replace(split, train=tr[keep]), dropped

    def check_conditions(self, conditions: Sequence[str], indices: np.ndarray | None = None, where: str = "") -> None:
        """Raise ``DataError`` when a condition keeps a modality that no utterance (of ``indices``) has."""
        avail = self.available if indices is None else self.available[np.asarray(indices, dtype=np.int64)]
        for c in conditions:
            keeps = Condition(c).modalities
            for j, m in enumerate(MODALITIES):
                if m in keeps and not avail[:, j].any():
                    raise DataError(
                        f"condition {c!r} needs {MODALITY_NAMES[m]}, which no utterance{where} has; "
                        f"use a condition without {m!r}",
                        source=self.origin,
                        field="available",
                    )

    def summary(self) -> dict:
        """Counts per fold part, dims, label distribution, availability rates (for ``data info``)."""
        out: dict = {
            "name": self.name,
            "task": self.task,
            "utterances": len(self),
            "groups": int(len(np.unique(self.groups))),
            "dims": self.dims,
            "available": {m: int(self.available[:, j].sum()) for j, m in enumerate(MODALITIES)},
            "absent": self.absent_modalities,
            "folds": {},
        }
        if self.task == "classification":
            vals, cnt = np.unique(self.labels, return_counts=True)
            names = self._class_names()
            out["labels"] = {names[int(v)]: int(c) for v, c in zip(vals, cnt)}
        else:
            y = self.labels
            out["labels"] = {
                "min": float(y.min()),
                "max": float(y.max()),
                "mean": float(y.mean()),
                "positive(>=0)": int((y >= 0).sum()),
                "negative": int((y < 0).sum()),
                "zero": int((y == 0).sum()),
            }
        for s in self.folds:
            out["folds"][s.name] = {
                p: {"utterances": int(len(s.part(p))), "groups": int(len(np.unique(self.groups[s.part(p)])))}
                for p in ("train", "val", "test")
            }
        return out
