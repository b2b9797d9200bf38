import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, recall_score

from hardymer.evaluation.metrics import (
    classification_metrics, compute_metrics, is_better, regression_metrics,
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
