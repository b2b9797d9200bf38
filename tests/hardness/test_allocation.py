import numpy as np
import pytest

from hardymer.errors import ConfigError
from hardymer.hardness.combine import allocate_neighbours, neighbour_counts, to_hardness


def _h(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "rank":
        return to_hardness(rng.normal(size=n), "rank")
    if kind == "release":
        return to_hardness(rng.random(n), "release")
    if kind == "fixed":
        return np.full(n, 0.5)
    return rng.random(n)


@pytest.mark.parametrize("kind", ["rank", "release", "fixed", "random"])
@pytest.mark.parametrize("K", [1, 3, 5])
@pytest.mark.parametrize("frac", [0.0, 0.13, 0.5, 0.61, 1.0])
def test_share_is_met_and_k_is_monotone_in_h(kind, K, frac):
    n = 97
    share = frac * K / (K + 1)
    h = _h(kind, n)
    k = allocate_neighbours(h, K, share, np.random.default_rng(1))
    assert k.dtype.kind == "i" and k.min() >= 0 and k.max() <= K
    realised = k.mean() / (K + 1)
    assert abs(realised - share) <= 0.01
    assert k.sum() == round(share * (K + 1) * n)  # exact up to the rounding of the total
    order = np.argsort(h, kind="stable")
    hs, ks = h[order], k[order]
    strictly = hs[1:] > hs[:-1]  # harder -> at least as many neighbours (ties may split floor/ceil)
    assert (ks[1:][strictly] >= ks[:-1][strictly]).all()


def test_equal_hardness_mixes_floor_and_ceil_at_random():
    h = np.full(200, 0.5)
    k1 = allocate_neighbours(h, 3, 0.6, np.random.default_rng(0))  # 0.6·4 = 2.4 neighbours on average
    k2 = allocate_neighbours(h, 3, 0.6, np.random.default_rng(1))
    assert set(k1.tolist()) == {2, 3} and (k1 == 3).sum() == 80
    assert not np.array_equal(k1, k2)
    np.testing.assert_array_equal(k1, allocate_neighbours(h, 3, 0.6, np.random.default_rng(0)))


def test_rank_at_half_share_matches_the_default_rule_in_amount():
    h = to_hardness(np.arange(300.0), "rank")
    k = allocate_neighbours(h, 3, 0.5, np.random.default_rng(0))
    assert np.bincount(k, minlength=4)[1:].tolist() == [100, 100, 100]
    default = neighbour_counts(h, 3)
    assert abs(default.mean() / 4 - 0.5) < 0.01
    assert np.abs(k - default).max() <= 1


def test_extremes():
    h = np.linspace(0, 1, 10)
    assert (allocate_neighbours(h, 3, 0.0, np.random.default_rng(0)) == 0).all()
    assert (allocate_neighbours(h, 3, 0.75, np.random.default_rng(0)) == 3).all()


@pytest.mark.parametrize("share", [-0.1, 0.76, 1.0])
def test_share_out_of_range_is_a_config_error(share):
    with pytest.raises(ConfigError, match="share"):
        allocate_neighbours(np.linspace(0, 1, 5), 3, share, np.random.default_rng(0))
