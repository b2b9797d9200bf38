"""Missing-modality condition names."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hardymer.conditions import (CONDITIONS, MISSING_CONDITIONS, MODALITIES, canonical_condition, condition_mask,
                                 parse_conditions)


def test_constants() -> None:
    assert MODALITIES == ("a", "t", "v")
    assert CONDITIONS == ("a", "t", "v", "at", "av", "tv", "atv")
    assert MISSING_CONDITIONS == CONDITIONS[:-1] and "atv" not in MISSING_CONDITIONS


@pytest.mark.parametrize("name", CONDITIONS)
def test_canonical_names_are_fixed_points(name: str) -> None:
    assert canonical_condition(name) == name


@pytest.mark.parametrize("name", CONDITIONS)
def test_any_letter_order_and_case(name: str) -> None:
    for perm in itertools.permutations(name):
        s = "".join(perm)
        assert canonical_condition(s) == name
        assert canonical_condition(s.upper()) == name
        assert canonical_condition(f"  {s} ") == name


@pytest.mark.parametrize("bad", ["", " ", "x", "ab", "aa", "atva", "att", "a t", "a,t", "audio", "none"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(ValueError, match="condition"):
        canonical_condition(bad)


@pytest.mark.parametrize("bad", [None, 3, ("a", "t"), ["at"]])
def test_non_string(bad) -> None:
    with pytest.raises(ValueError):
        canonical_condition(bad)  # type: ignore[arg-type]


def test_parse_conditions() -> None:
    assert parse_conditions("all") == list(CONDITIONS)
    assert parse_conditions(" ALL ") == list(CONDITIONS)
    assert parse_conditions("missing") == list(MISSING_CONDITIONS)
    assert parse_conditions("a,tv") == ["a", "tv"]
    assert parse_conditions("VA, ta ,atv") == ["av", "at", "atv"]
    assert parse_conditions("at,ta,at") == ["at"]  # duplicates after canonicalisation dropped
    assert parse_conditions("t") == ["t"]
    for bad in ("", "a,,t", "a,x", "al"):
        with pytest.raises(ValueError):
            parse_conditions(bad)


def test_condition_mask() -> None:
    assert condition_mask("atv").tolist() == [True, True, True]
    assert condition_mask("VT").tolist() == [False, True, True]
    assert condition_mask("a").dtype == bool
    for c in CONDITIONS:
        m = condition_mask(c)
        assert "".join(np.array(MODALITIES)[m]) == c
    with pytest.raises(ValueError):
        condition_mask("q")
