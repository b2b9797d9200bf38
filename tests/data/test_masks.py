"""The random missing-rate protocol's mask generators: CPM-Net's generator against a reference
written in the release's own form (OneHotEncoder, the same draws), the independent generator's
rate and rows, and the stored evaluation masks shared by every method and seed."""

import numpy as np
import pytest
from sklearn.preprocessing import OneHotEncoder

from hardymer.data.masks import (
    check_rate,
    cpm_mask,
    draw_mask,
    eval_mask,
    eval_mask_seed,
    independent_mask,
    mask_digest,
)


def reference_random_mask(view_num, alldata_len, missing_rate, rng):
    """CPM-Net's random_mask as GCNet calls it, in the release's form (the legacy global numpy RNG
    replaced by ``rng``, drawn in the same order)."""
    one_rate = 1 - missing_rate
    if one_rate <= (1 / view_num):
        enc = OneHotEncoder(categories=[list(range(view_num))])
        return enc.fit_transform(rng.integers(0, view_num, size=(alldata_len, 1))).toarray()
    if one_rate == 1:
        return rng.integers(1, 2, size=(alldata_len, view_num))
    error = 1
    while error >= 0.005:
        enc = OneHotEncoder(categories=[list(range(view_num))])
        view_preserve = enc.fit_transform(rng.integers(0, view_num, size=(alldata_len, 1))).toarray()
        one_num = view_num * alldata_len * one_rate - alldata_len
        ratio = one_num / (view_num * alldata_len)
        matrix_iter = (rng.integers(0, 100, size=(alldata_len, view_num)) < int(ratio * 100)).astype(int)
        a = np.sum(((matrix_iter + view_preserve) > 1).astype(int))
        one_num_iter = one_num / (1 - a / one_num)
        ratio = one_num_iter / (view_num * alldata_len)
        matrix_iter = (rng.integers(0, 100, size=(alldata_len, view_num)) < int(ratio * 100)).astype(int)
        matrix = ((matrix_iter + view_preserve) > 0).astype(int)
        ratio = np.sum(matrix) / (view_num * alldata_len)
        error = abs(one_rate - ratio)
    return matrix


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
def test_cpm_matches_the_reference_on_a_fixed_seed(rate):
    n = 500
    got = cpm_mask(n, rate, np.random.default_rng(7))
    want = reference_random_mask(3, n, rate, np.random.default_rng(7))
    np.testing.assert_array_equal(got, want.astype(np.uint8))
    assert (got.sum(1) >= 1).all()
    if rate == 0.7:  # 1 - r <= 1/3: exactly one modality per row, 2/3 missing
        assert (got.sum(1) == 1).all() and 1 - got.mean() == pytest.approx(2 / 3)
    else:
        assert abs(got.mean() - (1 - rate)) < 0.005


def test_cpm_rate_zero_misses_nothing():
    np.testing.assert_array_equal(cpm_mask(10, 0.0, np.random.default_rng(0)), np.ones((10, 3), np.uint8))


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.7])
def test_independent_keeps_a_modality_per_row_at_about_the_rate(rate):
    m = independent_mask(20000, rate, np.random.default_rng(1))
    assert (m.sum(1) >= 1).all()
    # P(missing | row not empty) = r (1 - r^2) / (1 - r^3) per entry
    want = rate * (1 - rate**2) / (1 - rate**3) if rate else 0.0
    assert 1 - m.mean() == pytest.approx(want, abs=0.01)


def test_eval_masks_depend_on_the_part_and_rate_not_on_the_method_or_seed():
    a = eval_mask("mosi-poria", "poria", "test", 300, 0.4)
    b = eval_mask("mosi-poria", "poria", "test", 300, 0.4)
    np.testing.assert_array_equal(a, b)
    assert mask_digest(a) == mask_digest(b)
    assert mask_digest(a) != mask_digest(eval_mask("mosi-poria", "poria", "val", 300, 0.4))
    assert mask_digest(a) != mask_digest(eval_mask("mosi-poria", "poria", "test", 300, 0.5))
    assert mask_digest(a) != mask_digest(eval_mask("mosi-poria", "poria", "test", 300, 0.4, mask_seed=1))
    assert eval_mask_seed("d", "f", "test", 0.4, "cpm", 0) != eval_mask_seed("d", "f", "test", 0.4, "independent", 0)


@pytest.mark.parametrize("bad", [-0.1, 0.71, 1.0, float("nan")])
def test_rates_outside_the_range_are_refused_naming_the_option(bad):
    with pytest.raises(ValueError, match="missing_rate"):
        check_rate(bad)
    with pytest.raises(ValueError, match="unknown mask"):
        draw_mask("gcnet", 3, 0.1, np.random.default_rng(0))


def test_cpm_terminates_where_the_precision_is_unreachable(caplog):
    """Seven rows at r = 0.5: the kept fraction moves in steps of 1/21, never within 0.005 of 0.5 (the
    release would loop forever); the closest draw is used, with a warning."""
    from hardymer.data.masks import cpm_mask

    with caplog.at_level("WARNING", logger="hardymer.data.masks"):
        m = cpm_mask(7, 0.5, np.random.default_rng(0))
    assert m.shape == (7, 3) and bool(m.any(1).all())
    assert abs(m.mean() - 0.5) <= 1 / 21 + 1e-12
    assert "closest" in caplog.text
