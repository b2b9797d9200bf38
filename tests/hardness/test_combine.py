import math

import numpy as np
import pytest

from hardymer.hardness.combine import MAPPINGS, combine, minmax, neighbour_counts, to_hardness


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_minmax_is_over_the_given_set():
    x = np.array([2.0, 4.0, 3.0, 6.0])
    np.testing.assert_allclose(minmax(x), [0.0, 0.5, 0.25, 1.0])
    # the normalisation depends on the whole set, not on each value alone
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0]))[1], 1.0)
    assert minmax(x).dtype == np.float64


@pytest.mark.parametrize("value", [0.0, 3.5, -2.0])
def test_minmax_constant_input_is_zero(value):
    out = minmax(np.full(7, value))
    assert out.shape == (7,) and (out == 0).all()


def test_combine_weights():
    dh = np.array([0.0, 1.0, 2.0, 4.0])  # minmax -> 0, .25, .5, 1
    ih = np.array([10.0, 30.0, 20.0, 10.0])  # minmax -> 0, 1, .5, 0
    s = combine(dh, ih, 0.6, 0.4)
    np.testing.assert_allclose(s, 0.6 * np.array([0, 0.25, 0.5, 1]) + 0.4 * np.array([0, 1, 0.5, 0]))
    np.testing.assert_allclose(combine(dh, ih, 1.0, 0.0), minmax(dh))
    np.testing.assert_allclose(combine(dh, ih, 0.0, 1.0), minmax(ih))
    # a constant component contributes nothing
    np.testing.assert_allclose(combine(dh, np.ones(4), 0.6, 0.4), 0.6 * minmax(dh))
    # with both weights <= 1 summing to 1, s stays in [0, 1]
    rng = np.random.default_rng(0)
    s = combine(rng.normal(size=50), rng.exponential(size=50), 0.3, 0.7)
    assert s.min() >= 0 and s.max() <= 1 + 1e-12


@pytest.mark.parametrize("beta", [1.0, 4.0, 10.0])
def test_release_mapping_is_sigmoid_of_beta_s(beta):
    s = np.linspace(0.0, 1.0, 11)
    h = to_hardness(s, "release", beta)
    np.testing.assert_allclose(h, _sigmoid(beta * s))
    assert h.min() == pytest.approx(0.5) and h.max() == pytest.approx(_sigmoid(beta))
    assert (np.diff(h) > 0).all()
    # the release's range for s in [0, 1]: [0.5, sigma(beta)] (0.98 for beta = 4)
    rng = np.random.default_rng(1)
    h = to_hardness(rng.random(200), "release", beta)
    assert h.min() >= 0.5 and h.max() <= _sigmoid(beta)
    if beta == 4.0:
        assert _sigmoid(beta) == pytest.approx(0.982, abs=1e-3)


def test_centered_mapping():
    rng = np.random.default_rng(2)
    s = rng.random(101)
    h = to_hardness(s, "centered", 4.0)
    q1, med, q3 = np.percentile(s, [25, 50, 75])
    np.testing.assert_allclose(h, _sigmoid(4.0 * (s - med) / (q3 - q1)))
    # median -> 0.5, monotone, spread on both sides of 0.5
    assert h[np.argsort(s)[50]] == pytest.approx(0.5)
    assert (np.diff(h[np.argsort(s)]) >= 0).all()
    assert h.min() < 0.2 and h.max() > 0.8
    # constant scores: no division by zero, everything at 0.5
    np.testing.assert_allclose(to_hardness(np.full(5, 0.3), "centered"), 0.5)


def test_rank_mapping_uniform_and_ties_share_rank():
    rng = np.random.default_rng(3)
    s = rng.normal(size=41)
    h = to_hardness(s, "rank")
    np.testing.assert_allclose(np.sort(h), np.linspace(0, 1, 41))
    assert h[np.argmin(s)] == 0.0 and h[np.argmax(s)] == 1.0
    # tied scores share their average rank: equal scores, equal hardness
    h = to_hardness(np.array([0.5, 0.1, 0.5, 0.5, 0.9]), "rank")
    np.testing.assert_allclose(h, [2 / 4, 0.0, 2 / 4, 2 / 4, 1.0])
    # constant scores (condition atv: nothing missing) -> every h = 0.5 -> the same k for all
    np.testing.assert_allclose(to_hardness(np.zeros(5), "rank"), 0.5)
    np.testing.assert_array_equal(neighbour_counts(to_hardness(np.zeros(5), "rank"), 3), 2)
    # degenerate sizes
    np.testing.assert_allclose(to_hardness(np.array([3.0]), "rank"), [0.5])


def test_unknown_mapping():
    assert set(MAPPINGS) == {"release", "centered", "rank"}
    with pytest.raises(ValueError, match="unknown hardness mapping 'sigmoid'"):
        to_hardness(np.zeros(3), "sigmoid")


@pytest.mark.parametrize(
    ("h", "K", "k"),
    [
        (0.0, 3, 1),
        (1.0, 3, 3),
        (0.34, 3, 2),
        (0.33, 3, 1),
        (0.67, 3, 3),
        (0.5, 3, 2),
        (0.999, 3, 3),
        (0.0, 1, 1),
        (1.0, 1, 1),
        (0.5, 4, 3),
        (0.74, 4, 3),
        (0.75, 4, 4),
        (1.0, 5, 5),
    ],
)
def test_neighbour_count_rule(h, K, k):
    assert int(neighbour_counts(np.array([h]), K)[0]) == k
    assert k == min(math.floor(K * h) + 1, K)


def test_neighbour_counts_range_and_clipping():
    rng = np.random.default_rng(4)
    for K in (1, 2, 3, 5):
        k = neighbour_counts(rng.random(500), K)
        assert k.dtype == np.int64 and k.min() >= 1 and k.max() <= K
        assert set(k.tolist()) == set(range(1, K + 1))
    np.testing.assert_array_equal(neighbour_counts(np.array([-0.5, 1.5]), 3), [1, 3])
    # monotone in h
    h = np.linspace(0, 1, 101)
    assert (np.diff(neighbour_counts(h, 3)) >= 0).all()
