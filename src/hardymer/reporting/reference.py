"""What a constant prediction scores on a split: the reference line of the accuracy and MAE plots.

The reference is the *best* constant prediction for each metric, chosen with the split's own labels
(so no constant predictor scores higher): the majority class for ``wa`` (any class gives the same ``ua``), the majority
sign for ``acc2``/``acc2_has0`` (e.g. "always positive"), the most frequent rounded score for ``acc7``
and the median score for ``mae``. A model has learned something from its inputs only where it beats it.

    >>> import numpy as np
    >>> constant_predictor_metrics("regression", np.array([1.0, 2.0, -1.0, 0.0]))["acc2"]
    66.66666666666667
"""

from __future__ import annotations

import numpy as np

from hardymer.evaluation.metrics import classification_metrics

#: key of the constant-predictor metrics in a run's metrics.json (and results.json's runs)
CONSTANT_KEY = "constant_predictor"


def _majority_share(mask: np.ndarray) -> float:
    """Percent of the larger of the two groups ``mask`` / ``~mask`` (NaN when empty)."""
    if mask.size == 0:
        return float("nan")
    p = float(mask.mean())
    return 100.0 * max(p, 1.0 - p)


def constant_predictor_metrics(task: str, labels: np.ndarray) -> dict[str, float]:
    """The metrics of the best constant prediction on a split with true ``labels`` (see module docstring).

    Classification: ``wa`` and ``ua`` of predicting the split's most frequent class for every
    utterance. Regression: ``acc2`` (non-zero labels), ``acc2_has0``, ``acc7`` and ``mae``.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"constant_predictor_metrics needs a non-empty 1-D label array, got shape {y.shape}")
    if task == "classification":
        y = y.astype(np.int64)
        majority = int(np.bincount(y - y.min()).argmax() + y.min())
        scores = classification_metrics(y, np.full_like(y, majority))
        return {"wa": scores["wa"], "ua": scores["ua"]}
    if task == "regression":
        y = y.astype(np.float64)
        nz = y[y != 0]
        _, counts = np.unique(np.round(np.clip(y, -3, 3)), return_counts=True)
        return {
            "acc2": _majority_share(nz > 0),
            "acc2_has0": _majority_share(y >= 0),
            "acc7": 100.0 * float(counts.max()) / y.size,
            "mae": float(np.mean(np.abs(y - np.median(y)))),
        }
    raise ValueError(f"unknown task {task!r}")
