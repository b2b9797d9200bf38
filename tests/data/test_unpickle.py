"""The restricted unpickler: pickles are code, only builtins containers and numpy arrays pass."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from fakes.gcnet import make_iemocap, make_mosi, write_pickle

from hardymer.data._unpickle import safe_load_pickle
from hardymer.errors import DataError


class _Payload:
    """Unpickling this would run ``os.system`` (here: create a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("payload", [_Payload, _EvalPayload])
def test_malicious_reduce_is_refused(tmp_path: Path, protocol: int, payload) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    # hidden inside an otherwise harmless structure
    path.write_bytes(pickle.dumps({"labels": [1, 2], "x": payload(marker)}, protocol=protocol))
    with pytest.raises(DataError) as err:
        safe_load_pickle(path)
    msg = str(err.value)
    assert "refusing" in msg and str(path) in msg
    assert ("system" in msg) or ("eval" in msg)
    assert not marker.exists(), "the payload ran"


def test_arbitrary_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps(Path("/etc")))
    with pytest.raises(DataError, match="refusing to load global"):
        safe_load_pickle(path)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_arrays_load(tmp_path: Path, protocol: int) -> None:
    obj = [
        {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array(["x", "yy"])},
        {"s": np.float64(2.4), "i": np.int64(-3), "t": (1, 2.5, "u", b"raw", b"", 1 + 2j, None, True)},
        {1, 2},
        frozenset({"k"}),
        np.zeros((0, 4)),
        np.ones(3, dtype=[("f", "<f4"), ("g", "<i8")]),
    ]
    path = tmp_path / "arrays.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    out = safe_load_pickle(path)
    np.testing.assert_array_equal(out[0]["a"], obj[0]["a"])
    assert out[0]["a"].dtype == np.float32
    np.testing.assert_array_equal(out[0]["b"], obj[0]["b"])
    assert out[1] == obj[1] and out[2] == {1, 2} and out[3] == frozenset({"k"})
    assert out[4].shape == (0, 4)
    np.testing.assert_array_equal(out[5], obj[5])


@pytest.mark.parametrize(
    "name,n_items",
    [
        ("CMUMOSI_features_raw_2way.pkl", 7),
        ("IEMOCAP_features_raw_4way.pkl", 6),
        ("IEMOCAP_features_raw_6way.pkl", 6),
    ],
)
def test_real_gcnet_pickles_load(gcnet_labels_dir: Path, name: str, n_items: int) -> None:
    path = gcnet_labels_dir / name
    if not path.is_file():
        pytest.skip(f"{path} absent")
    obj = safe_load_pickle(path)
    assert isinstance(obj, list) and len(obj) == n_items
    video_ids, video_labels = obj[0], obj[1]
    assert isinstance(video_ids, dict) and set(video_ids) == set(video_labels)
    n = sum(len(v) for v in video_ids.values())
    if name.startswith("CMUMOSI"):
        assert len(video_ids) == 93 and n == 2199
        assert [len(s) for s in obj[4:]] == [52, 10, 31]
    else:
        assert len(video_ids) == 151 and n == (5531 if "4way" in name else 7433)


@pytest.mark.parametrize(
    "name", ["CMUMOSI_features_raw_2way.pkl", "IEMOCAP_features_raw_4way.pkl", "IEMOCAP_features_raw_6way.pkl"]
)
def test_generated_gcnet_pickles_load(tmp_path: Path, name: str) -> None:
    """The generated pickles of tests/data/fakes (real layouts, protocol 2, numpy float64 scores) load unchanged."""
    if name.startswith("CMUMOSI"):
        obj = make_mosi(seed=0)
    else:
        four, six = make_iemocap(seed=0)
        obj = four if "4way" in name else six
    out = safe_load_pickle(write_pickle(tmp_path / name, obj))
    assert isinstance(out, list) and len(out) == (7 if name.startswith("CMUMOSI") else 6)
    assert out == obj
    video_ids, video_labels = out[0], out[1]
    assert isinstance(video_ids, dict) and set(video_ids) == set(video_labels)
    assert set().union(*out[4:]) == set(video_ids)
    if name.startswith("CMUMOSI"):
        assert all(type(y) is np.float64 for v in video_labels.values() for y in v)


def test_truncated_pickle(tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    data = pickle.dumps({"x": np.arange(100), "y": list(range(50))}, protocol=2)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.pkl.*not a readable pickle"):
        safe_load_pickle(path)


def test_empty_and_garbage_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.pkl"):
        safe_load_pickle(empty)
    junk = tmp_path / "junk.pkl"
    junk.write_text("transcripts,labels\n1,2\n")
    with pytest.raises(DataError, match=r"junk\.pkl"):
        safe_load_pickle(junk)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"absent\.pkl.*file not found"):
        safe_load_pickle(tmp_path / "absent.pkl")
    with pytest.raises(DataError, match="file not found"):
        safe_load_pickle(tmp_path)  # a directory is not a pickle file
