"""Metrics of the field, each implemented once in numpy (checked against sklearn/scipy in the
tests; neither is imported here, which keeps them out of every command that only trains).

Classification: ``wa`` (accuracy), ``ua`` (macro recall), ``wf1`` (weighted F1).
Regression (MOSI/MOSEI): ``acc2``/``f1`` on non-zero labels (sign agreement, label == 0 excluded),
``acc2_has0``/``f1_has0`` (>= 0 vs < 0 on all), ``acc7`` (round and clip to [-3, 3]), ``mae``,
``corr`` (Pearson). Accuracies and F1 are in percent.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

CLASSIFICATION_METRICS = ("wa", "ua", "wf1")
REGRESSION_METRICS = ("acc2", "f1", "acc2_has0", "f1_has0", "acc7", "mae", "corr")
#: metrics where lower is better (model selection direction)
LOWER_IS_BETTER = frozenset({"mae", "loss"})
#: decimals every report shows a metric with (percentages 2, ``mae``/``corr`` 3); see :func:`metric_decimals`
METRIC_DECIMALS: Mapping[str, int] = MappingProxyType(
    {
        "wa": 2,
        "ua": 2,
        "wf1": 2,
        "acc2": 2,
        "f1": 2,
        "acc2_has0": 2,
        "f1_has0": 2,
        "acc7": 2,
        "mae": 3,
        "corr": 3,
    }
)
#: decimals of a metric missing from :data:`METRIC_DECIMALS`
DEFAULT_DECIMALS = 2


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"metrics need 1-D arrays of equal length, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("metrics need at least one sample")
    return y_true, y_pred


def _accuracy(t: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(t == p))


def _per_label(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted counts and support per label of ``t ∪ p`` (sorted)."""
    labels, inv = np.unique(np.concatenate([t, p]), return_inverse=True)
    ti, pi = inv[: len(t)], inv[len(t) :]
    k = len(labels)
    tp = np.bincount(ti[ti == pi], minlength=k).astype(np.float64)
    return tp, np.bincount(pi, minlength=k).astype(np.float64), np.bincount(ti, minlength=k).astype(np.float64)


def _macro_recall(t: np.ndarray, p: np.ndarray) -> float:
    """Mean recall over the labels of ``t ∪ p`` (a label never true counts 0, like sklearn's zero_division=0)."""
    tp, _, support = _per_label(t, p)
    return float(np.mean(np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)))


def _weighted_f1(t: np.ndarray, p: np.ndarray) -> float:
    """Per-label F1 averaged with the true support as weights (sklearn's ``average="weighted"``)."""
    tp, pred, support = _per_label(t, p)
    denom = pred + support
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(np.sum(f1 * support) / np.sum(support))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r (centred, normalised dot product, clipped to [-1, 1], as scipy's pearsonr)."""
    xm, ym = x - x.mean(), y - y.mean()
    r = np.dot(xm / np.linalg.norm(xm), ym / np.linalg.norm(ym))
    return float(np.clip(r, -1.0, 1.0))


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """WA, UA and weighted F1 (percent) from true and predicted class ids."""
    y_true, y_pred = _check(y_true, y_pred)
    return {
        "wa": 100.0 * _accuracy(y_true, y_pred),
        "ua": 100.0 * _macro_recall(y_true, y_pred),
        "wf1": 100.0 * _weighted_f1(y_true, y_pred),
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
        out["acc2"] = 100.0 * _accuracy(t, p)
        out["f1"] = 100.0 * _weighted_f1(t, p)
    else:
        out["acc2"] = out["f1"] = float("nan")
    t0, p0 = y_true >= 0, y_pred >= 0
    out["acc2_has0"] = 100.0 * _accuracy(t0, p0)
    out["f1_has0"] = 100.0 * _weighted_f1(t0, p0)
    out["acc7"] = 100.0 * _accuracy(np.round(np.clip(y_true, -3, 3)), np.round(np.clip(y_pred, -3, 3)))
    out["mae"] = float(np.mean(np.abs(y_true - y_pred)))
    if np.std(y_true) == 0 or np.std(y_pred) == 0:
        out["corr"] = 0.0
    else:
        out["corr"] = _pearson(y_true, y_pred)
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


def metric_decimals(metric: str) -> int:
    """Decimals ``metric`` is shown with in tables and reports (:data:`METRIC_DECIMALS`, else
    :data:`DEFAULT_DECIMALS`)."""
    return METRIC_DECIMALS.get(metric, DEFAULT_DECIMALS)


def format_metric(metric: str, value: float) -> str:
    """``value`` rounded to the decimals of ``metric`` (:func:`metric_decimals`)."""
    return f"{value:.{metric_decimals(metric)}f}"
