"""openSMILE eGeMAPSv02 on the 14 real EmoDB clips in ../shared (extra ``audio``)."""

from __future__ import annotations

import numpy as np
import pytest
from extract_helpers import read_report, write_manifest

pytest.importorskip("opensmile", reason="extra 'audio' not installed (pip install 'hardymer[audio]')")
pytest.importorskip("soundfile", reason="extra 'audio' not installed (pip install 'hardymer[audio]')")

from hardymer.extract import extract  # noqa: E402


@pytest.fixture(scope="module")
def emodb(request) -> list:
    shared = request.getfixturevalue("shared_dir")
    root = shared / "data" / "emodb-sample"
    clips = sorted(root.glob("*.wav"))
    if len(clips) != 14:
        pytest.skip(f"expected the 14 EmoDB clips in {root}, found {len(clips)}")
    return clips


def test_emodb_clips_give_88d_egemaps(tmp_path, emodb):
    rows = [{"id": p.stem, "group": p.stem[:2], "audio": str(p)} for p in emodb]
    res = extract(write_manifest(tmp_path / "m.csv", rows), tmp_path / "a.npz", progress=False, workers=2)
    z = np.load(tmp_path / "a.npz")
    assert z["audio"].shape == (14, 88) and z["audio"].dtype == np.float32
    assert z["mask_audio"].tolist() == [1] * 14
    assert np.isfinite(z["audio"]).all()
    assert len({r.tobytes() for r in z["audio"]}) == 14  # 14 different clips, 14 different vectors
    assert res.problems == [] and read_report(tmp_path / "a.report.csv") == []
    assert z["utt_ids"].tolist() == [p.stem for p in emodb]


def test_corrupt_missing_and_empty_audio(tmp_path, emodb):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage garbage")
    (tmp_path / "sub").mkdir()
    rows = [
        {"id": "good", "audio": str(emodb[0])},
        {"id": "corrupt", "audio": "corrupt.wav"},
        {"id": "missing", "audio": "nowhere/missing.wav"},
        {"id": "folder", "audio": "sub"},
        {"id": "none", "audio": ""},
    ]
    extract(write_manifest(tmp_path / "m.csv", rows), tmp_path / "a.npz", progress=False)
    z = np.load(tmp_path / "a.npz")
    assert z["mask_audio"].tolist() == [1, 0, 0, 0, 0]
    assert not z["audio"][1:].any()
    rep = {r["id"]: r["reason"] for r in read_report(tmp_path / "a.report.csv")}
    assert set(rep) == {"corrupt", "missing", "folder", "none"}
    assert "unreadable audio" in rep["corrupt"] and "file not found" in rep["missing"]
    assert "folder" in rep["folder"] and "empty cell" in rep["none"]
