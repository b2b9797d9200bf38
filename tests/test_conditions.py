"""Missing-modality condition names."""

from __future__ import annotations

import copy
import itertools
import json
import pickle

import numpy as np
import pytest
import torch
import yaml
from omegaconf import OmegaConf

from hardymer.conditions import (
    CONDITIONS,
    MISSING_CONDITIONS,
    MODALITIES,
    Condition,
    canonical_condition,
    condition_mask,
    parse_conditions,
)


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


# -- Condition: parsed once, carried as its canonical str -----------------------------------------


@pytest.mark.parametrize("name", CONDITIONS)
def test_condition_canonicalises_any_order_and_case(name: str) -> None:
    for perm in itertools.permutations(name):
        for spelling in ("".join(perm), "".join(perm).upper(), f" {''.join(perm)}  "):
            c = Condition(spelling)
            assert isinstance(c, Condition) and isinstance(c, str)
            assert c == name and str(c) == name and type(str(c)) is str
            assert c == canonical_condition(spelling)


def test_condition_equality_and_hash_are_the_canonical_str() -> None:
    c = Condition("VA")
    assert c == "av" and "av" == c and c != "va"  # equal to the canonical name only
    assert hash(c) == hash("av")
    assert {c: 1}["av"] == 1 and {"av": 1}[c] == 1
    assert len({Condition("ta"), "at", Condition("at")}) == 1
    assert c in CONDITIONS and CONDITIONS.index(c) == CONDITIONS.index("av")
    assert sorted([Condition("tv"), Condition("a"), "at"]) == ["a", "at", "tv"]
    assert repr(c) == repr("av") and f"{c}" == "av" and f"{c!r}" == "'av'"


@pytest.mark.parametrize("name", CONDITIONS)
def test_condition_mask_and_modalities(name: str) -> None:
    c = Condition(name[::-1].upper())
    assert c.mask.dtype == bool and c.mask.shape == (3,)
    assert c.mask.tolist() == [m in name for m in MODALITIES]
    assert c.mask.tolist() == condition_mask(name).tolist()
    assert c.modalities == tuple(name)
    assert c.missing == tuple(m for m in MODALITIES if m not in name)
    assert set(c.modalities) | set(c.missing) == set(MODALITIES)


def test_condition_mask_is_read_only_and_condition_mask_a_copy() -> None:
    c = Condition("at")
    with pytest.raises(ValueError):
        c.mask[2] = True
    assert c.mask.tolist() == [True, True, False]
    m = condition_mask(c)
    m[2] = True  # the plain function still returns a writable array of its own
    assert c.mask.tolist() == [True, True, False]
    assert torch.tensor(c.mask).tolist() == [True, True, False]


def test_parsing_a_condition_is_a_no_op() -> None:
    c = Condition("tA")
    assert Condition(c) is c
    assert canonical_condition(c) == "at" and type(canonical_condition(c)) is str
    assert copy.copy(c) is c and copy.deepcopy(c) is c
    assert parse_conditions(c) == [c]


def test_condition_json_round_trip() -> None:
    c = Condition("vt")
    text = json.dumps({"condition": c, "per": {c: 1.0}, "list": [c]}, sort_keys=True)
    assert text == json.dumps({"condition": "tv", "per": {"tv": 1.0}, "list": ["tv"]}, sort_keys=True)
    back = json.loads(text)
    assert Condition(back["condition"]) == c and Condition(back["condition"]).mask.tolist() == c.mask.tolist()


@pytest.mark.parametrize("dumper", [yaml.SafeDumper, yaml.Dumper])
def test_condition_yaml_round_trip(dumper: type) -> None:
    c = Condition("VA")
    text = yaml.dump({"condition": c, "conditions": [c, Condition("atv")]}, Dumper=dumper)
    assert text == yaml.safe_dump({"condition": "av", "conditions": ["av", "atv"]})
    assert "python" not in text and "!!" not in text
    back = yaml.safe_load(text)
    assert back["condition"] == c and Condition(back["condition"]) == c


def test_condition_pickles_as_a_condition() -> None:
    c = Condition("ta")
    back = pickle.loads(pickle.dumps(c))
    assert isinstance(back, Condition) and back == "at" and back.mask.tolist() == c.mask.tolist()


def test_condition_goes_into_configs_as_str() -> None:
    c = Condition("ta")
    cfg = OmegaConf.create({"condition": "atv"})
    cfg.condition = str(c)  # configs hold plain strings; parse again where the config is read
    assert cfg.condition == "at" and type(cfg.condition) is str
    assert OmegaConf.to_yaml(cfg) == "condition: at\n"
    assert Condition(cfg.condition) == c


@pytest.mark.parametrize("bad", ["", " ", "x", "ab", "aa", "atva", "att", "a t", "a,t", "audio", "none", "all"])
def test_condition_bad_name_error_text(bad: str) -> None:
    with pytest.raises(ValueError) as got:
        Condition(bad)
    with pytest.raises(ValueError) as want:
        canonical_condition(bad)
    assert str(got.value) == str(want.value)
    assert str(got.value).startswith(f"unknown condition {bad!r}: use the available modalities")
    assert "\n" not in str(got.value)


@pytest.mark.parametrize("bad", [None, 3, ("a", "t"), ["at"]])
def test_condition_non_string(bad) -> None:
    with pytest.raises(ValueError, match="condition must be a string"):
        Condition(bad)


def test_parse_conditions_returns_conditions() -> None:
    for spec in ("all", "missing", "VA, ta ,atv"):
        out = parse_conditions(spec)
        assert out and all(isinstance(c, Condition) for c in out)
    assert [c.mask.tolist() for c in parse_conditions("a,tv")] == [[True, False, False], [False, True, True]]


# ---------------------------------------------------------------------------- missing-rate labels
def test_rate_labels_round_trip():
    from hardymer.conditions import label_rate, rate_label

    assert rate_label(0.3) == "r0.30" and label_rate("r0.30") == pytest.approx(0.3)
    assert label_rate("at") is None and label_rate("mean6") is None and label_rate("r") is None
    assert label_rate("rx") is None


def test_parse_rates():
    from hardymer.data.masks import SWEEP_RATES, parse_rates

    assert parse_rates("sweep") == list(SWEEP_RATES) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert parse_rates("0.5, 0.1,0.5") == [0.1, 0.5]
    assert parse_rates(0.3) == [0.3]
    for bad, msg in (("0.8", "outside"), ("-0.1", "outside"), ("x", "not a missing rate"), ("nan", "outside")):
        with pytest.raises(ValueError, match=msg):
            parse_rates(bad)


def test_ordered_columns():
    from hardymer.conditions import ordered_columns

    assert ordered_columns({"r0.70", "atv", "r0.10", "a", "mean6", "auc", "mean"}) == ["a", "atv", "r0.10", "r0.70"]


def test_area_under_rates_matches_numpy_trapezoid():
    from hardymer.conditions import area_under_rates

    rng = np.random.default_rng(0)
    r = np.array([0.0, 0.1, 0.2, 0.4, 0.7])
    y = rng.normal(size=len(r))
    got = area_under_rates({f"r{v:.2f}": float(u) for v, u in zip(r, y, strict=True)})
    assert got == pytest.approx(np.trapezoid(y, r) / (r[-1] - r[0]))
    assert area_under_rates({"r0.30": 1.0}) is None
    assert area_under_rates({"r0.30": 1.0, "at": 2.0}) is None
    # a constant curve's normalised area is the constant
    assert area_under_rates({"r0.00": 5.0, "r0.50": 5.0, "r0.70": 5.0}) == pytest.approx(5.0)
