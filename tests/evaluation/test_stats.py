import numpy as np
import pytest
from scipy import stats

from hardymer.errors import DataError
from hardymer.evaluation.stats import MIN_SEEDS, paired_differences


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_matches_scipy_ttest_rel_and_t_interval(n):
    rng = np.random.default_rng(n)
    b = rng.normal(65, 1.5, n)
    a = b + rng.normal(0.7, 0.8, n)
    r = paired_differences(a, b)
    d = a - b
    np.testing.assert_allclose(r.diffs, d)
    assert r.n == n and r.mean == pytest.approx(d.mean())
    lo, hi = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    # the interval excludes 0 exactly when the paired t-test rejects at 5 %
    p = stats.ttest_rel(a, b).pvalue
    assert r.excludes_zero == (p < 0.05)
    assert r.few_seeds == (n < MIN_SEEDS)
    assert r.to_dict()["few_seeds"] == (n < MIN_SEEDS)


def test_interval_excludes_zero_both_signs():
    base = np.array([60.0, 61.0, 62.0, 63.0, 64.0])
    up = paired_differences(base + [1.0, 1.2, 0.9, 1.1, 1.0], base)
    down = paired_differences(base, base + [1.0, 1.2, 0.9, 1.1, 1.0])
    noisy = paired_differences(base + [1.0, -1.0, 0.5, -0.6, 0.2], base)
    assert up.excludes_zero and up.ci_low > 0
    assert down.excludes_zero and down.ci_high < 0
    assert not noisy.excludes_zero and noisy.ci_low < 0 < noisy.ci_high
    assert stats.ttest_rel(base + [1.0, -1.0, 0.5, -0.6, 0.2], base).pvalue > 0.05


def test_one_pair_has_no_interval():
    r = paired_differences([66.0], [65.0])
    assert r.n == 1 and r.mean == pytest.approx(1.0)
    assert r.ci_low is None and r.ci_high is None and not r.excludes_zero and r.few_seeds


def test_other_level_matches_scipy():
    a, b = np.array([1.0, 2.0, 4.0, 3.5]), np.array([0.5, 1.0, 2.5, 3.6])
    r = paired_differences(a, b, level=0.9)
    lo, hi = stats.t.interval(0.9, 3, loc=(a - b).mean(), scale=stats.sem(a - b))
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))


@pytest.mark.parametrize("a,b", [([1.0, 2.0], [1.0]), ([], []), ([1.0, np.nan], [1.0, 2.0]), ([[1.0]], [[1.0]])])
def test_bad_input_is_one_clear_error(a, b):
    with pytest.raises(DataError, match="paired values"):
        paired_differences(a, b)
