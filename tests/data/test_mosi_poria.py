"""The real CMU-MOSI loader (Poria's CSV layout + GCNet labels); skipped when ../shared is absent."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from hardymer.data import create_dataset, group_index
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.loaders.mosi_poria import LABEL_PICKLE, load_mosi_poria
from hardymer.errors import DataError


@pytest.fixture(scope="module")
def ds(mosi_poria_root: Path, gcnet_labels_dir: Path):
    return create_dataset("mosi-poria", root=mosi_poria_root)


@pytest.fixture(scope="module")
def transcripts(mosi_poria_root: Path) -> list[list[str]]:
    with (mosi_poria_root / "transcripts.csv").open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.reader(fh) if r]


@pytest.fixture(scope="module")
def pickle_obj(gcnet_labels_dir: Path):
    return safe_load_pickle(gcnet_labels_dir / LABEL_PICKLE)


def _poria_part_utts(root: Path, part: str, transcripts: list[list[str]]) -> list[str]:
    with (root / f"text_{part}.csv").open(newline="") as fh:
        return [transcripts[int(float(r[0]))][0] for r in csv.reader(fh) if r]


# ---------------------------------------------------------------------------- the real data
def test_sizes_and_dims(ds) -> None:
    assert len(ds) == 2199
    assert len(np.unique(ds.groups)) == 93
    assert ds.dims == {"a": 73, "t": 100, "v": 100}
    assert ds.task == "regression" and ds.label_range == (-3.0, 3.0)
    assert ds.available.all()
    assert all(ds.features[m].dtype == np.float32 for m in "atv")
    (fold,) = ds.folds
    for part, n_utt, n_vid in (("train", 1447, 62), ("val", 209, 10), ("test", 543, 21)):
        idx = fold.part(part)
        assert len(idx) == n_utt, part
        assert len(np.unique(ds.groups[idx])) == n_vid, part
    allidx = np.concatenate([fold.train, fold.val, fold.test])
    assert np.array_equal(np.sort(allidx), np.arange(len(ds)))


def test_split_follows_poria(ds, mosi_poria_root: Path, transcripts) -> None:
    fold = ds.folds[0]
    train = set(_poria_part_utts(mosi_poria_root, "train", transcripts))
    test = set(_poria_part_utts(mosi_poria_root, "test", transcripts))
    assert set(ds.utt_ids[fold.train].tolist()) == train
    # validation is carved out of Poria-test only (text/video features saw Poria-train labels)
    assert set(ds.utt_ids[fold.val].tolist()) <= test
    assert set(ds.utt_ids[fold.test].tolist()) <= test
    assert sorted(ds.meta["val_videos"]) == sorted(set(ds.groups[fold.val].tolist()))


def test_val_videos_depend_on_seed(mosi_poria_root: Path, gcnet_labels_dir: Path, ds) -> None:
    other = load_mosi_poria(mosi_poria_root, val_seed=1)
    assert other.meta["val_videos"] != ds.meta["val_videos"]
    again = load_mosi_poria(mosi_poria_root, val_seed=0)
    assert again.meta["val_videos"] == ds.meta["val_videos"]


def test_labels(ds, transcripts) -> None:
    y = ds.labels
    assert y.dtype == np.float32 and y.min() >= -3 and y.max() <= 3
    assert int((y == 0).sum()) == 96
    binary = {r[0]: int(r[3]) for r in transcripts}
    b = np.array([binary[u] for u in ds.utt_ids])
    assert np.array_equal(b, (y >= 0).astype(int))


def test_groups_match_video_index(ds, transcripts) -> None:
    video_index = {r[0]: r[2] for r in transcripts}
    pairs = {(g, video_index[u]) for g, u in zip(ds.groups.tolist(), ds.utt_ids.tolist())}
    assert len(pairs) == 93  # a bijection video id <-> video_index
    assert len({g for g, _ in pairs}) == 93 and len({v for _, v in pairs}) == 93
    for g, u in zip(ds.groups.tolist(), ds.utt_ids.tolist()):
        assert u.rsplit("_", 1)[0] == g


def test_order_follows_pickle(ds, pickle_obj) -> None:
    video_ids = pickle_obj[0]
    gi = group_index(ds, np.arange(len(ds)))
    seen = 0
    for row in gi:
        row = row[row >= 0]
        vid = ds.groups[row[0]]
        assert ds.utt_ids[row].tolist() == [str(u) for u in video_ids[vid]]
        seen += len(row)
    assert seen == len(ds)


def test_features_match_csv(ds, mosi_poria_root: Path, transcripts) -> None:
    utts = _poria_part_utts(mosi_poria_root, "test", transcripts)
    pos = {u: i for i, u in enumerate(ds.utt_ids.tolist())}
    with (mosi_poria_root / "video" / "video_test0.csv").open(newline="") as fh:
        last = [r for r in csv.reader(fh) if r][-1]
    np.testing.assert_allclose(ds.features["v"][pos[utts[-1]]], np.array(last[:-1], dtype=np.float32))


def test_root_required() -> None:
    with pytest.raises(ValueError, match="root"):
        create_dataset("mosi-poria")


# ---------------------------------------------------------------------------- broken copies
@pytest.fixture
def copy_root(mosi_poria_root: Path, gcnet_labels_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data" / "mosi-poria"
    shutil.copytree(mosi_poria_root, root)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.copyfile(gcnet_labels_dir / LABEL_PICKLE, root / LABEL_PICKLE)
    (root / LABEL_PICKLE).chmod(0o644)
    return root


def _edit_csv(path: Path, fn) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    rows = fn(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def test_copy_loads(copy_root: Path) -> None:
    ds = load_mosi_poria(copy_root)
    assert len(ds) == 2199 and ds.meta["labels"] == str(copy_root / LABEL_PICKLE)


def test_label_pickle_in_sibling_gcnet_labels(copy_root: Path) -> None:
    sib = copy_root.parent / "gcnet-labels"
    sib.mkdir()
    (copy_root / LABEL_PICKLE).rename(sib / LABEL_PICKLE)
    assert load_mosi_poria(copy_root).meta["labels"] == str(sib / LABEL_PICKLE)


def test_missing_feature_file(copy_root: Path) -> None:
    (copy_root / "video" / "video_test0.csv").unlink()
    with pytest.raises(DataError, match=r"video_test0\.csv.*file not found"):
        load_mosi_poria(copy_root)


def test_nan_value(copy_root: Path) -> None:
    path = copy_root / "audio" / "audio_train0.csv"

    def put_nan(rows):
        rows[5][3] = "nan"
        return rows

    _edit_csv(path, put_nan)
    with pytest.raises(DataError) as err:
        load_mosi_poria(copy_root)
    assert "audio_train0.csv" in str(err.value) and "features.a" in str(err.value)
    assert "NaN" in str(err.value)


def test_non_numeric_value(copy_root: Path) -> None:
    path = copy_root / "text" / "text_train0.csv"

    def garble(rows):
        rows[7][0] = "abc"
        return rows

    _edit_csv(path, garble)
    with pytest.raises(DataError, match=r"text_train0\.csv.*features\.t.*row 7"):
        load_mosi_poria(copy_root)


def test_wrong_column_count(copy_root: Path) -> None:
    _edit_csv(copy_root / "text" / "text_test0.csv", lambda rows: [r[1:] for r in rows])
    with pytest.raises(DataError, match=r"text_test0\.csv.*features\.t.*99 feature columns, expected 100"):
        load_mosi_poria(copy_root)


def test_ragged_row(copy_root: Path) -> None:
    def ragged(rows):
        rows[3] = rows[3] + ["0.0"]
        return rows

    _edit_csv(copy_root / "video" / "video_train0.csv", ragged)
    with pytest.raises(DataError, match=r"video_train0\.csv.*row 3 has 102 columns, expected 101"):
        load_mosi_poria(copy_root)


def test_wrong_row_count(copy_root: Path) -> None:
    _edit_csv(copy_root / "audio" / "audio_test0.csv", lambda rows: rows[:-1])
    with pytest.raises(DataError, match=r"audio_test0\.csv.*751 rows, expected 752"):
        load_mosi_poria(copy_root)


def test_binary_label_disagreement(copy_root: Path) -> None:
    def flip(rows):
        rows[0][-1] = "0" if float(rows[0][-1]) else "1"
        return rows

    _edit_csv(copy_root / "audio" / "audio_train0.csv", flip)
    with pytest.raises(DataError, match="binary label disagrees"):
        load_mosi_poria(copy_root)


def test_missing_label_pickle(copy_root: Path) -> None:
    (copy_root / LABEL_PICKLE).unlink()
    with pytest.raises(DataError, match=LABEL_PICKLE):
        load_mosi_poria(copy_root)
    with pytest.raises(DataError, match="file not found"):
        load_mosi_poria(copy_root, labels=copy_root / "nope.pkl")


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_mosi_poria(tmp_path / "absent")
