import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, recall_score

from hardymer.evaluation.metrics import (
    classification_metrics,
    compute_metrics,
    is_better,
    regression_metrics,
)


def test_classification_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
    m = classification_metrics(y, p)
    assert m["wa"] == pytest.approx(100 * accuracy_score(y, p))
    assert m["ua"] == pytest.approx(100 * recall_score(y, p, average="macro"))
    assert m["wf1"] == pytest.approx(100 * f1_score(y, p, average="weighted"))


def test_compute_metrics_argmax_of_logits():
    logits = np.array([[0.1, 2.0], [3.0, 0.0], [0.0, 1.0]])
    m = compute_metrics("classification", np.array([1, 0, 0]), logits)
    assert m["wa"] == pytest.approx(100 * 2 / 3)


def test_regression_matches_reference():
    rng = np.random.default_rng(1)
    y = np.round(rng.uniform(-3, 3, 400) * 5) / 5
    y[:20] = 0.0
    p = y + rng.normal(0, 1.0, 400)
    m = regression_metrics(y, p)
    nz = y != 0
    assert m["acc2"] == pytest.approx(100 * accuracy_score(y[nz] > 0, p[nz] > 0))
    assert m["f1"] == pytest.approx(100 * f1_score(y[nz] > 0, p[nz] > 0, average="weighted"))
    assert m["acc2_has0"] == pytest.approx(100 * accuracy_score(y >= 0, p >= 0))
    assert m["f1_has0"] == pytest.approx(100 * f1_score(y >= 0, p >= 0, average="weighted"))
    ref7 = np.mean(np.round(np.clip(y, -3, 3)) == np.round(np.clip(p, -3, 3)))
    assert m["acc7"] == pytest.approx(100 * ref7)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert m["corr"] == pytest.approx(pearsonr(y, p)[0])


def test_acc2_excludes_zero_labels():
    y = np.array([0.0, 0.0, 1.0, -1.0])
    p = np.array([-1.0, -1.0, 1.0, -1.0])
    m = regression_metrics(y, p)
    assert m["acc2"] == 100.0  # zeros excluded
    assert m["acc2_has0"] == 50.0  # zeros count as positive


def test_constant_prediction_corr_is_zero_not_nan():
    m = regression_metrics(np.array([1.0, -1.0, 2.0]), np.zeros(3))
    assert m["corr"] == 0.0


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([1.0])])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        regression_metrics(np.array([1.0, 2.0]), bad)


def test_is_better_direction():
    assert is_better("mae", 0.5, 0.6) and not is_better("mae", 0.7, 0.6)
    assert is_better("wa", 70, 60) and not is_better("wa", float("nan"), 60)
    assert is_better("acc2", 1.0, None)


@pytest.mark.parametrize("seed", range(6))
def test_numpy_metrics_equal_sklearn_scipy_on_edge_cases(seed):
    """Labels never predicted, predicted but never true, a single class, booleans, tied scores."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    y = rng.integers(0, 5, n)
    p = rng.integers(0, 7, n) if seed % 2 else np.zeros(n, dtype=np.int64)
    m = classification_metrics(y, p)
    assert m["wa"] == pytest.approx(100 * accuracy_score(y, p), abs=1e-9)
    assert m["ua"] == pytest.approx(100 * recall_score(y, p, average="macro", zero_division=0), abs=1e-9)
    assert m["wf1"] == pytest.approx(100 * f1_score(y, p, average="weighted", zero_division=0), abs=1e-9)
    yr = np.round(rng.uniform(-3, 3, n + 2), 1)
    pr = yr * rng.uniform(-1, 2) + rng.normal(0, 0.5, n + 2)
    r = regression_metrics(yr, pr)
    assert r["corr"] == pytest.approx(pearsonr(yr, pr)[0], abs=1e-12)
    assert r["f1_has0"] == pytest.approx(
        100 * f1_score(yr >= 0, pr >= 0, average="weighted", zero_division=0), abs=1e-9
    )


def test_average_ranks_equal_scipy():
    from scipy.stats import rankdata

    from hardymer.hardness.combine import average_ranks

    rng = np.random.default_rng(0)
    for x in (rng.normal(size=50), rng.integers(0, 4, 50).astype(float), np.zeros(7), np.array([2.0])):
        np.testing.assert_array_equal(average_ranks(x), rankdata(x, method="average"))


def test_training_imports_neither_sklearn_nor_scipy():
    import subprocess
    import sys

    code = (
        "import sys; import hardymer.training.run, hardymer.models.hardymer, hardymer.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'matplotlib', 'faiss'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_metric_has_display_decimals():
    from hardymer.evaluation.metrics import (
        CLASSIFICATION_METRICS,
        DEFAULT_DECIMALS,
        METRIC_DECIMALS,
        REGRESSION_METRICS,
        format_metric,
        metric_decimals,
    )

    assert set(METRIC_DECIMALS) == set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)
    assert metric_decimals("mae") == metric_decimals("corr") == 3 and metric_decimals("acc2") == 2
    assert metric_decimals("loss") == DEFAULT_DECIMALS
    assert format_metric("mae", 0.12345) == "0.123" and format_metric("wa", 61.239) == "61.24"
    with pytest.raises(TypeError):
        METRIC_DECIMALS["mae"] = 4  # type: ignore[index]  # one table, read-only
