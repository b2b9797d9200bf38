import numpy as np
import pytest
from scipy import stats

from hardymer.errors import DataError
from hardymer.evaluation.stats import (
    MIN_PAIRS_FOR_INTERVAL,
    MIN_SEEDS,
    PairedDifference,
    format_interval,
    interval_estimable,
    paired_differences,
    wilcoxon_pvalue,
)


@pytest.mark.parametrize("n", [3, 5, 8])
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
    assert r.ci_low is None and r.ci_high is None and not r.excludes_zero and r.few_seeds and not r.estimable
    assert r.cell(2) == "+1.00 (n=1, no interval)"


def test_two_identical_differences_get_no_interval_and_no_mark():
    # two seeds whose paired differences happen to be equal: the t interval would be [-4.25, -4.25]
    # and "exclude" 0; it is not estimable, so neither an interval nor a mark is printed
    a, b = np.array([61.5, 63.0]), np.array([65.75, 67.25])
    r = paired_differences(a, b)
    assert r.diffs == [-4.25, -4.25] and r.mean == -4.25 and r.n == 2
    assert not r.estimable and r.ci_low is None and r.ci_high is None and not r.excludes_zero
    assert r.cell(2) == "-4.25 (n=2, no interval)" == format_interval(r, 2)
    assert "*" not in format_interval(r, 2, mark="*") and format_interval(r.to_dict(), 2) == r.cell(2)


def test_two_distinct_differences_get_no_interval():
    r = paired_differences([61.0, 64.0], [60.0, 60.5])
    assert r.n == 2 < MIN_PAIRS_FOR_INTERVAL and not r.estimable and not r.excludes_zero
    assert r.cell(3) == f"{np.mean([1.0, 3.5]):+.3f} (n=2, no interval)"


@pytest.mark.parametrize(
    "diffs",
    [
        [-4.25] * 3,
        [-4.25] * 5,
        [0.0] * 4,
        # equal up to floating-point rounding: 100·k/N − 100·j/N with the same k − j
        [100 * 52 / 93 - 100 * 48 / 93, 100 * 61 / 93 - 100 * 57 / 93, 100 * 70 / 93 - 100 * 66 / 93],
    ],
)
def test_equal_differences_are_never_marked(diffs):
    assert not interval_estimable(diffs)
    r = PairedDifference.from_diffs(diffs)
    assert r.ci_low is None and not r.excludes_zero and "no interval" in r.cell(2) and "*" not in r.cell(2)


def test_normal_case_matches_scipy_and_is_marked():
    d = np.array([1.2, 0.8, 1.5, 0.9, 1.1])
    b = np.array([60.0, 61.0, 59.5, 62.0, 60.5])
    r = paired_differences(b + d, b)
    lo, hi = stats.t.interval(0.95, 4, loc=(r.mean), scale=stats.sem(np.array(r.diffs)))
    assert r.estimable and (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert r.excludes_zero and lo > 0
    assert r.cell(2) == f"{r.mean:+.2f} [{lo:+.2f}, {hi:+.2f}] *"
    assert r.cell(2, mark="\\*").endswith(" \\*") and r.cell(2, mark="") == f"{r.mean:+.2f} [{lo:+.2f}, {hi:+.2f}]"
    js = r.to_dict()
    assert js["estimable"] is True and js["wilcoxon_p"] == r.wilcoxon_p
    assert PairedDifference.from_dict(js) == r


def test_stored_degenerate_interval_follows_the_rule():
    # a results.json written before the rule: an interval [-4.25, -4.25] marked as excluding 0
    old = {
        "diffs": [-4.25, -4.25],
        "mean": -4.25,
        "ci_low": -4.25,
        "ci_high": -4.25,
        "n": 2,
        "level": 0.95,
        "excludes_zero": True,
        "few_seeds": True,
    }
    assert format_interval(old, 2, "\\*") == "-4.25 (n=2, no interval)"
    assert not PairedDifference.from_dict(old).excludes_zero


@pytest.mark.parametrize("seed,n", [(0, 5), (1, 8), (2, 12)])
def test_wilcoxon_matches_scipy_exact(seed, n):
    rng = np.random.default_rng(seed)
    b = rng.normal(60, 1, n)
    a = b + rng.normal(0.5, 1, n)
    r = paired_differences(a, b)
    want = stats.wilcoxon(a - b, method="exact").pvalue
    assert r.wilcoxon_p == pytest.approx(want, rel=1e-12)
    assert wilcoxon_pvalue(a - b) == r.wilcoxon_p


def test_wilcoxon_small_and_degenerate_cases():
    # all five differences positive: the exact two-sided p-value is 2 / 2**5
    assert wilcoxon_pvalue([0.3, 1.0, 0.7, 2.0, 1.4]) == pytest.approx(2 / 2**5)
    assert wilcoxon_pvalue([1.0]) == pytest.approx(1.0)
    assert wilcoxon_pvalue([0.0, 0.0]) is None
    ties = [1.0, 1.0, 2.0, -0.5, 3.0, 0.0]
    assert wilcoxon_pvalue(ties) == pytest.approx(stats.wilcoxon(ties).pvalue)


def test_other_level_matches_scipy():
    a, b = np.array([1.0, 2.0, 4.0, 3.5]), np.array([0.5, 1.0, 2.5, 3.6])
    r = paired_differences(a, b, level=0.9)
    lo, hi = stats.t.interval(0.9, 3, loc=(a - b).mean(), scale=stats.sem(a - b))
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))


@pytest.mark.parametrize("a,b", [([1.0, 2.0], [1.0]), ([], []), ([1.0, np.nan], [1.0, 2.0]), ([[1.0]], [[1.0]])])
def test_bad_input_is_one_clear_error(a, b):
    with pytest.raises(DataError, match="paired values"):
        paired_differences(a, b)
