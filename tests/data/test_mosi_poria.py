"""The CMU-MOSI loader of Poria's CSV layout + GCNet labels, on a generated copy of the layout
(tests/data/fakes/mosi_poria.py) and, when ../shared has it, on the real files (marked ``shared``)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from fakes.mosi_poria import make_mosi_poria

from hardymer.data import create_dataset, group_index
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.loaders.mosi_poria import LABEL_PICKLE, load_mosi_poria
from hardymer.errors import DataError

KINDS = ["fake", pytest.param("real", marks=pytest.mark.shared)]


def _real(request: pytest.FixtureRequest) -> tuple[Path, Path]:
    return request.getfixturevalue("mosi_poria_root"), request.getfixturevalue("gcnet_labels_dir") / LABEL_PICKLE


@pytest.fixture(scope="module", params=KINDS)
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(root, label pickle)`` of the generated or the real data set."""
    if request.param == "real":
        return _real(request)
    fake = make_mosi_poria(tmp_path_factory.mktemp("fake") / "mosi-poria")
    assert fake.label_pickle is not None
    return fake.root, fake.label_pickle


@pytest.fixture(scope="module")
def ds(data):
    return create_dataset("mosi-poria", root=data[0])


@pytest.fixture(scope="module")
def transcripts(data) -> list[list[str]]:
    with (data[0] / "transcripts.csv").open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.reader(fh) if r]


@pytest.fixture(scope="module")
def pickle_obj(data):
    return safe_load_pickle(data[1])


def _poria_part_utts(root: Path, part: str, transcripts: list[list[str]]) -> list[str]:
    with (root / f"text_{part}.csv").open(newline="") as fh:
        return [transcripts[int(float(r[0]))][0] for r in csv.reader(fh) if r]


def _videos(utts: list[str]) -> set[str]:
    return {u.rsplit("_", 1)[0] for u in utts}


# ---------------------------------------------------------------------------- loading (fake and real)
def test_sizes_and_dims(ds, data, transcripts) -> None:
    root = data[0]
    train, test = (_poria_part_utts(root, p, transcripts) for p in ("train", "test"))
    assert len(ds) == len(transcripts) == len(train) + len(test)
    assert len(np.unique(ds.groups)) == len(_videos(train) | _videos(test))
    assert ds.dims == {"a": 73, "t": 100, "v": 100}
    assert ds.task == "regression" and ds.label_range == (-3.0, 3.0)
    assert ds.available.all()
    assert all(ds.features[m].dtype == np.float32 for m in "atv")
    assert ds.source == str(root) and ds.origin == f"mosi-poria ({root})"
    (fold,) = ds.folds
    assert len(fold.train) == len(train)
    assert len(np.unique(ds.groups[fold.val])) == 10
    assert len(np.unique(ds.groups[fold.test])) == len(_videos(test)) - 10
    allidx = np.concatenate([fold.train, fold.val, fold.test])
    assert np.array_equal(np.sort(allidx), np.arange(len(ds)))


@pytest.mark.shared
def test_real_sizes(mosi_poria_root: Path, gcnet_labels_dir: Path) -> None:
    ds = create_dataset("mosi-poria", root=mosi_poria_root)
    assert len(ds) == 2199
    assert len(np.unique(ds.groups)) == 93
    (fold,) = ds.folds
    for part, n_utt, n_vid in (("train", 1447, 62), ("val", 209, 10), ("test", 543, 21)):
        idx = fold.part(part)
        assert len(idx) == n_utt, part
        assert len(np.unique(ds.groups[idx])) == n_vid, part
    assert int((ds.labels == 0).sum()) == 96


def test_split_follows_poria(ds, data, transcripts) -> None:
    fold = ds.folds[0]
    train = set(_poria_part_utts(data[0], "train", transcripts))
    test = set(_poria_part_utts(data[0], "test", transcripts))
    assert set(ds.utt_ids[fold.train].tolist()) == train
    # validation is carved out of Poria-test only (text/video features saw Poria-train labels)
    assert set(ds.utt_ids[fold.val].tolist()) <= test
    assert set(ds.utt_ids[fold.test].tolist()) <= test
    assert sorted(ds.meta["val_videos"]) == sorted(set(ds.groups[fold.val].tolist()))
    test_videos = sorted(_videos(list(test)))
    assert ds.meta["val_videos"] == sorted(np.random.default_rng(0).choice(test_videos, 10, replace=False).tolist())


def test_val_videos_depend_on_seed(data, ds) -> None:
    other = load_mosi_poria(data[0], labels=data[1], val_seed=1)
    assert other.meta["val_videos"] != ds.meta["val_videos"]
    again = load_mosi_poria(data[0], labels=data[1], val_seed=0)
    assert again.meta["val_videos"] == ds.meta["val_videos"]


def test_labels(ds, transcripts, pickle_obj) -> None:
    y = ds.labels
    assert y.dtype == np.float32 and y.min() >= -3 and y.max() <= 3
    assert (y == 0).any()  # exact zeros count as positive
    binary = {r[0]: int(r[3]) for r in transcripts}
    b = np.array([binary[u] for u in ds.utt_ids])
    assert np.array_equal(b, (y >= 0).astype(int))
    score = {str(u): float(s) for g in pickle_obj[0] for u, s in zip(pickle_obj[0][g], pickle_obj[1][g])}
    np.testing.assert_array_equal(y, np.array([score[u] for u in ds.utt_ids], dtype=np.float32))


def test_groups_match_video_index(ds, transcripts) -> None:
    video_index = {r[0]: r[2] for r in transcripts}
    pairs = {(g, video_index[u]) for g, u in zip(ds.groups.tolist(), ds.utt_ids.tolist())}
    n_videos = len(np.unique(ds.groups))
    assert len(pairs) == n_videos  # a bijection video id <-> video_index
    assert len({g for g, _ in pairs}) == n_videos and len({v for _, v in pairs}) == n_videos
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


def test_features_match_csv(ds, data, transcripts) -> None:
    pos = {u: i for i, u in enumerate(ds.utt_ids.tolist())}
    for part in ("train", "test"):
        utts = _poria_part_utts(data[0], part, transcripts)
        with (data[0] / "video" / f"video_{part}0.csv").open(newline="") as fh:
            last = [r for r in csv.reader(fh) if r][-1]
        np.testing.assert_allclose(ds.features["v"][pos[utts[-1]]], np.array(last[:-1], dtype=np.float32))


def test_fake_features_and_determinism(tmp_path: Path) -> None:
    fake = make_mosi_poria(tmp_path / "a" / "mosi-poria", seed=1)
    ds = load_mosi_poria(fake.root)
    for m in "atv":
        np.testing.assert_array_equal(ds.features[m], np.stack([fake.features[m][u] for u in ds.utt_ids]))
    assert ds.utt_ids[: len(fake.utts["train"])].tolist() == fake.utts["train"]
    again = make_mosi_poria(tmp_path / "b" / "mosi-poria", seed=1)
    other = make_mosi_poria(tmp_path / "c" / "mosi-poria", seed=2)
    for name in ("transcripts.csv", "text_test.csv", "audio/audio_train0.csv"):
        assert (fake.root / name).read_bytes() == (again.root / name).read_bytes()
        assert (fake.root / name).read_bytes() != (other.root / name).read_bytes()
    # string order of transcripts.csv differs from the clip order of the pickle, as in the real files
    assert any(len(v) >= 10 for v in fake.pickle_obj[0].values())


def test_root_required() -> None:
    with pytest.raises(ValueError, match="root"):
        create_dataset("mosi-poria")


# ---------------------------------------------------------------------------- broken copies (fake and real)
@pytest.fixture(params=KINDS)
def copy_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A writable copy with the label pickle beside the CSV files."""
    root = tmp_path / "data" / "mosi-poria"
    if request.param == "fake":
        return make_mosi_poria(root, labels="root").root
    src, labels = _real(request)
    shutil.copytree(src, root)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.copyfile(labels, root / LABEL_PICKLE)
    (root / LABEL_PICKLE).chmod(0o644)
    return root


def _edit_csv(path: Path, fn) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    rows = fn(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def _n_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for r in csv.reader(fh) if r)


def test_copy_loads(copy_root: Path) -> None:
    ds = load_mosi_poria(copy_root)
    assert len(ds) == _n_rows(copy_root / "transcripts.csv")
    assert ds.meta["labels"] == str(copy_root / LABEL_PICKLE)


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
    n = _n_rows(copy_root / "text_test.csv")
    _edit_csv(copy_root / "audio" / "audio_test0.csv", lambda rows: rows[:-1])
    with pytest.raises(DataError, match=rf"audio_test0\.csv.*{n - 1} rows, expected {n}"):
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


def test_too_few_validation_videos_names_the_folder(tmp_path: Path) -> None:
    """A split part left empty is reported with the folder the data came from."""
    fake = make_mosi_poria(tmp_path / "mosi-poria", test_videos=10)  # all 10 go to validation
    ds = load_mosi_poria(fake.root)
    assert len(ds.folds[0].test) == 0
    with pytest.raises(DataError) as err:
        ds.check_fold(ds.folds[0])
    assert str(err.value) == f"mosi-poria ({fake.root}): field 'folds': fold 'poria' has no test utterances"
