"""Metrics of the field, each implemented once (checked against sklearn/scipy in the tests).

Classification: ``wa`` (accuracy), ``ua`` (macro recall), ``wf1`` (weighted F1).
Regression (MOSI/MOSEI): ``acc2``/``f1`` on non-zero labels (sign agreement, label == 0 excluded),
``acc2_has0``/``f1_has0`` (>= 0 vs < 0 on all), ``acc7`` (round and clip to [-3, 3]), ``mae``,
``corr`` (Pearson). Accuracies and F1 are in percent.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score, recall_score

CLASSIFICATION_METRICS = ("wa", "ua", "wf1")
REGRESSION_METRICS = ("acc2", "f1", "acc2_has0", "f1_has0", "acc7", "mae", "corr")
#: metrics where lower is better (model selection direction)
LOWER_IS_BETTER = frozenset({"mae", "loss"})


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"metrics need 1-D arrays of equal length, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("metrics need at least one sample")
    return y_true, y_pred


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """WA, UA and weighted F1 (percent) from true and predicted class ids."""
    y_true, y_pred = _check(y_true, y_pred)
    return {
        "wa": 100.0 * accuracy_score(y_true, y_pred),
        "ua": 100.0 * recall_score(y_true, y_pred, average="macro", zero_division=0),
        "wf1": 100.0 * f1_score(y_true, y_pred, average="weighted", zero_division=0),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Acc-2 (non-zero and has-0) with weighted F1, Acc-7, MAE and Pearson r from scores."""
    y_true, y_pred = _check(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64))
    if not np.isfinite(y_pred).all():
        raise ValueError("predictions contain NaN/inf")
    nz = y_true != 0
    out: dict[str, float] = {}
    if nz.any():
        t, p = y_true[nz] > 0, y_pred[nz] > 0
        out["acc2"] = 100.0 * accuracy_score(t, p)
        out["f1"] = 100.0 * f1_score(t, p, average="weighted", zero_division=0)
    else:
        out["acc2"] = out["f1"] = float("nan")
    t0, p0 = y_true >= 0, y_pred >= 0
    out["acc2_has0"] = 100.0 * accuracy_score(t0, p0)
    out["f1_has0"] = 100.0 * f1_score(t0, p0, average="weighted", zero_division=0)
    out["acc7"] = 100.0 * accuracy_score(np.round(np.clip(y_true, -3, 3)), np.round(np.clip(y_pred, -3, 3)))
    out["mae"] = float(np.mean(np.abs(y_true - y_pred)))
    if np.std(y_true) == 0 or np.std(y_pred) == 0:
        out["corr"] = 0.0
    else:
        out["corr"] = float(pearsonr(y_true, y_pred)[0])
    return {k: float(v) for k, v in out.items()}


def compute_metrics(task: str, y_true: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """Metrics for ``task`` from model output (logits/probabilities ``[N, C]`` or scores ``[N]``)."""
    output = np.asarray(output)
    if task == "classification":
        pred = output.argmax(-1) if output.ndim == 2 else output
        return classification_metrics(np.asarray(y_true).astype(np.int64), pred.astype(np.int64))
    if task == "regression":
        return regression_metrics(y_true, output.reshape(-1))
    raise ValueError(f"unknown task {task!r}")


def default_select_metric(task: str) -> str:
    """The default model-selection metric (always computed on validation)."""
    return "wa" if task == "classification" else "mae"


def is_better(metric: str, new: float, best: float | None) -> bool:
    """Whether ``new`` improves on ``best`` for ``metric`` (NaN never improves)."""
    if new != new:  # NaN
        return False
    if best is None:
        return True
    return new < best if metric in LOWER_IS_BETTER else new > best


def metric_names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
