"""Per-modality feature standardisation, fit on a fold's training part only."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hardymer.conditions import MODALITIES
from hardymer.data.dataset import MultimodalDataset


@dataclass
class Standardizer:
    """z-scoring per feature dimension; statistics over *available* training rows only."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    @classmethod
    def fit(cls, ds: MultimodalDataset, train_idx: np.ndarray, eps: float = 1e-6) -> Standardizer:
        mean, std = {}, {}
        for j, m in enumerate(MODALITIES):
            rows = train_idx[ds.available[train_idx, j]]
            x = ds.features[m][rows].astype(np.float64)
            if len(x) == 0:
                mean[m] = np.zeros(ds.dims[m], np.float32)
                std[m] = np.ones(ds.dims[m], np.float32)
                continue
            mean[m] = x.mean(0).astype(np.float32)
            std[m] = np.maximum(x.std(0), eps).astype(np.float32)
        return cls(mean, std)

    def transform_array(self, m: str, x: np.ndarray, available: np.ndarray | None = None) -> np.ndarray:
        z = ((x - self.mean[m]) / self.std[m]).astype(np.float32, copy=False)
        if available is not None:
            z[~available] = 0.0
        return z

    def transform(self, ds: MultimodalDataset) -> MultimodalDataset:
        """A copy of ``ds`` with standardised features (missing rows stay exactly 0)."""
        feats = {m: self.transform_array(m, ds.features[m], ds.available[:, j]) for j, m in enumerate(MODALITIES)}
        return replace(ds, features=feats)

    def state_dict(self) -> dict:
        return {
            "mean": {m: v.tolist() for m, v in self.mean.items()},
            "std": {m: v.tolist() for m, v in self.std.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> Standardizer:
        return cls(
            {m: np.asarray(v, np.float32) for m, v in state["mean"].items()},
            {m: np.asarray(v, np.float32) for m, v in state["std"].items()},
        )
