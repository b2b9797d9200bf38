"""The ``npz`` single-file format: loading, inference rules, round trip, error messages."""

from __future__ import annotations

import numpy as np
import pytest
from fakes.npz import make_npz_arrays, write_npz

from hardymer.data import create_dataset
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.data.loaders.npz import load_npz, save_npz
from hardymer.errors import DataError

N = 12


def _arrays(**over):
    rng = np.random.default_rng(0)
    a = {
        "audio": rng.standard_normal((N, 4)).astype(np.float32),
        "text": rng.standard_normal((N, 6)),
        "video": rng.standard_normal((N, 3)).astype(np.float32),
        "labels": np.arange(N) % 3,
        "groups": np.repeat(np.array(["d0", "d1", "d2", "d3"]), 3),
        "split": np.repeat(np.array(["train", "train", "val", "test"]), 3),
    }
    a.update(over)
    return {k: v for k, v in a.items() if v is not None}


def _write(tmp_path, name="data.npz", **over):
    p = tmp_path / name
    np.savez(p, **_arrays(**over))
    return p


def test_minimal_classification(tmp_path):
    ds = load_npz(_write(tmp_path))
    assert ds.name == "data" and ds.task == "classification"
    assert ds.class_names == ["0", "1", "2"]
    assert ds.dims == {"a": 4, "t": 6, "v": 3}
    assert ds.available.all()
    assert ds.utt_ids[0] == "u000000" and ds.utt_ids[-1] == "u000011"
    assert ds.order.tolist() == [0, 1, 2] * 4
    f = ds.fold(0)
    assert f.name == "default"
    assert (len(f.train), len(f.val), len(f.test)) == (6, 3, 3)


def test_class_names_and_regression_inference(tmp_path):
    ds = load_npz(_write(tmp_path, class_names=np.array(["neg", "neu", "pos", "extra"])))
    assert ds.task == "classification" and ds.class_names == ["neg", "neu", "pos", "extra"]
    y = np.linspace(-3, 3, N)
    ds = load_npz(_write(tmp_path, labels=y, label_range=np.array([-3.0, 3.0])))
    assert ds.task == "regression" and ds.label_range == (-3.0, 3.0)
    np.testing.assert_allclose(ds.labels, y.astype(np.float32))
    # explicit task: integer scores as regression
    ds = load_npz(_write(tmp_path, task=np.array("regression")))
    assert ds.task == "regression" and ds.labels.dtype == np.float32
    # whole-number floats with class_names are class ids
    ds = load_npz(_write(tmp_path, labels=(np.arange(N) % 3).astype(float), class_names=np.array(["a", "b", "c"])))
    assert ds.task == "classification" and ds.labels.dtype == np.int64


def test_masks_absent_modalities_and_dims(tmp_path):
    mask = np.ones(N, dtype=np.uint8)
    mask[[1, 4]] = 0
    text = np.random.default_rng(1).standard_normal((N, 6))
    text[1] = np.nan  # allowed: the row is marked unavailable
    ds = load_npz(_write(tmp_path, video=None, text=text, mask_text=mask, dims=np.array([4, 6, 9])))
    assert ds.available[:, 1].tolist() == mask.astype(bool).tolist()
    assert not ds.features["t"][[1, 4]].any()
    assert ds.dims["v"] == 9 and not ds.available[:, 2].any() and not ds.features["v"].any()
    ds = load_npz(_write(tmp_path, video=None, audio=None))
    assert ds.dims == {"a": 1, "t": 6, "v": 1}
    assert ds.available.sum(axis=0).tolist() == [0, N, 0]


def test_order_groups_ids_speakers(tmp_path):
    groups = np.array(["b", "a", "b", "a", "c", "c", "b", "a", "c", "d", "d", "d"])
    split = np.where(np.isin(groups, ["d"]), "test", np.where(groups == "c", "val", "train"))
    ids = np.array([f"utt-{k}" for k in range(N)])
    ds = load_npz(_write(tmp_path, groups=groups, split=split, utt_ids=ids, speakers=np.array(["M", "F"] * 6)))
    assert ds.order.tolist() == [0, 0, 1, 1, 0, 1, 2, 2, 2, 0, 1, 2]
    assert ds.utt_ids.tolist() == ids.tolist()
    assert ds.speakers.tolist() == ["M", "F"] * 6
    ds = load_npz(_write(tmp_path, order=np.arange(N)[::-1].copy()))
    assert ds.order.tolist() == list(range(N))[::-1]
    ds = load_npz(_write(tmp_path, groups=None, split=np.array(["train"] * 8 + ["test"] * 4)))
    assert ds.groups.tolist() == ds.utt_ids.tolist() and (ds.order == 0).all()


def test_multi_fold(tmp_path):
    folds = np.array(
        [
            np.repeat(["train", "train", "val", "test"], 3),
            np.repeat(["test", "train", "train", "val"], 3),
            np.repeat(["train", "", "test", "train"], 3),  # '' = not used in this fold
        ]
    )
    ds = load_npz(_write(tmp_path, split=None, fold_names=np.array(["f1", "f2", "f3"]), folds=folds))
    assert [f.name for f in ds.folds] == ["f1", "f2", "f3"]
    assert ds.fold("f2").test.tolist() == [0, 1, 2]
    f3 = ds.fold("f3")
    assert len(f3.train) == 6 and len(f3.val) == 0 and len(f3.test) == 3


def _same(a: MultimodalDataset, b: MultimodalDataset) -> None:
    assert (a.name, a.task, a.class_names, a.label_range) == (b.name, b.task, b.class_names, b.label_range)
    for m in "atv":
        np.testing.assert_array_equal(a.features[m], b.features[m])
    for k in ("available", "labels", "groups", "order", "utt_ids"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert (a.speakers is None) == (b.speakers is None)
    if a.speakers is not None:
        np.testing.assert_array_equal(a.speakers, b.speakers)
    assert [f.name for f in a.folds] == [f.name for f in b.folds]
    for fa, fb in zip(a.folds, b.folds):
        for p in ("train", "val", "test"):
            assert sorted(fa.part(p).tolist()) == sorted(fb.part(p).tolist())


def test_round_trip_classification(tmp_path):
    src = load_npz(
        _write(
            tmp_path,
            video=None,
            mask_audio=(np.arange(N) % 4 != 0).astype(int),
            class_names=np.array(["x", "y", "z"]),
            speakers=np.array(["A"] * N),
        )
    )
    out = save_npz(src, tmp_path / "sub" / "copy.npz")
    assert out.is_file() and not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    back = load_npz(out)
    assert back.name == "data"
    _same(src, back)


def test_round_trip_regression_multifold_and_registry(tmp_path):
    y = np.linspace(-2, 2, N).astype(np.float32)
    folds = [
        Split("one", np.arange(0, 6), np.arange(6, 9), np.arange(9, 12)),
        Split("two", np.arange(6, 12), np.array([], dtype=np.int64), np.arange(0, 3)),
    ]
    rng = np.random.default_rng(3)
    src = MultimodalDataset(
        name="mine",
        task="regression",
        features={
            "a": rng.standard_normal((N, 2)).astype(np.float32),
            "t": np.zeros((N, 5), np.float32),
            "v": rng.standard_normal((N, 3)).astype(np.float32),
        },
        available=np.c_[np.ones(N, bool), np.zeros(N, bool), np.arange(N) % 2 == 0],
        labels=y,
        groups=np.repeat(np.array(["g1", "g2", "g3", "g4"]), 3),
        order=np.tile([2, 1, 0], 4),
        utt_ids=np.array([f"id{k}" for k in range(N)]),
        folds=folds,
        label_range=(-3.0, 3.0),
    )
    p = save_npz(src, tmp_path / "mine.npz")
    _same(src, load_npz(p))
    _same(src, create_dataset("npz", root=p))
    _same(src, create_dataset("npz", path=str(p)))
    # overwriting is atomic and leaves no temp file
    save_npz(src, p, compress=True)
    _same(src, load_npz(p))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["mine.npz"]


# ------------------------------------------------------------------ generated data (tests/data/fakes/npz.py)
@pytest.mark.parametrize("kw", [{}, {"task": "regression", "folds": 3}, {"masks": False, "classes": 5}])
def test_generated_npz_loads_and_round_trips(tmp_path, kw):
    arrays = make_npz_arrays(seed=1, **kw)
    ds = load_npz(write_npz(tmp_path / "gen.npz", arrays))
    n = len(arrays["labels"])
    assert len(ds) == n and ds.dims == {"a": 4, "t": 6, "v": 3}
    assert ds.task == kw.get("task", "classification") and ds.source == str(tmp_path / "gen.npz")
    assert len(ds.folds) == kw.get("folds", 1)
    for key, m in (("audio", "a"), ("text", "t"), ("video", "v")):
        mask = arrays.get(f"mask_{key}", np.ones(n)).astype(bool)
        assert ds.available[:, "atv".index(m)].tolist() == mask.tolist()
        np.testing.assert_array_equal(ds.features[m][mask], arrays[key][mask])
        assert not ds.features[m][~mask].any()  # NaN rows of unavailable modalities are zeroed
    assert ds.utt_ids.tolist() == arrays["utt_ids"].tolist() and ds.order.tolist() == arrays["order"].tolist()
    _same(ds, load_npz(save_npz(ds, tmp_path / "copy.npz")))
    assert make_npz_arrays(seed=1, **kw).keys() == arrays.keys()
    assert all(
        np.array_equal(v, arrays[k], equal_nan=v.dtype.kind == "f") for k, v in make_npz_arrays(seed=1, **kw).items()
    )


def test_empty_part_error_names_the_file(tmp_path):
    arrays = make_npz_arrays(seed=0)
    arrays["split"] = np.where(arrays["split"] == "test", "", arrays["split"])  # no test rows
    p = write_npz(tmp_path / "mine.npz", arrays)
    ds = load_npz(p)
    ds.check_fold(ds.fold("default"), ("train", "val"))
    with pytest.raises(DataError) as err:
        ds.check_fold(ds.fold("default"))
    assert str(err.value) == f"mine ({p}): field 'folds': fold 'default' has no test utterances"
    with pytest.raises(KeyError, match=str(p)):
        ds.fold("other")
    # data that was not read from a file is named by its name alone
    mem = MultimodalDataset(
        name="mem",
        task=ds.task,
        features=ds.features,
        available=ds.available,
        labels=ds.labels,
        groups=ds.groups,
        order=ds.order,
        utt_ids=ds.utt_ids,
        folds=ds.folds,
        class_names=ds.class_names,
    )
    assert mem.source is None and mem.origin == "mem"
    with pytest.raises(DataError, match=r"^mem: field 'folds': fold 'default' has no test utterances$"):
        mem.check_fold(mem.fold("default"))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "over, field, msg",
    [
        ({"labels": None}, "labels", "required array is missing"),
        ({"audio": np.ones((N - 1, 4))}, "audio", r"expected shape \[12, d\], got \(11, 4\)"),
        ({"audio": np.ones(N)}, "audio", r"expected shape \[12, d\]"),
        ({"mask_video": np.full(N, 2)}, "mask_video", "only 0/1"),
        ({"groups": np.array(["g"] * (N - 1))}, "groups", r"expected shape \[12\]"),
        (
            {"labels": np.arange(N), "class_names": np.array(["a", "b"])},
            "labels",
            r"label 2 at row 2 out of range 0\.\.1",
        ),
        ({"labels": -(np.arange(N) % 2)}, "labels", "negative"),
        ({"labels": np.full(N, 3.5), "label_range": np.array([-3.0, 3.0])}, "labels", "outside label_range"),
        ({"labels": np.r_[np.nan, np.zeros(N - 1)]}, "labels", "NaN/inf"),
        ({"labels": np.full(N, 0.5), "class_names": np.array(["a"])}, "labels", "whole numbers"),
        ({"split": np.array(["train"] * 6 + ["dev"] * 6)}, "split", "unknown split value 'dev'"),
        ({"split": np.array(["test"] * N)}, "split", "no training utterances"),
        ({"split": np.array(["train", "test"] * 6)}, "split", "is in both train and test"),
        ({"split": None}, "split", "no split"),
        ({"fold_names": np.array(["a"])}, "split", "not both"),
        (
            {"split": None, "fold_names": np.array(["a", "b"]), "folds": np.array([["train"] * N])},
            "folds",
            r"expected shape \[2, 12\]",
        ),
        ({"utt_ids": np.array(["same"] * N)}, "utt_ids", "not unique"),
        ({"dims": np.array([4, 6])}, "dims", "3 positive widths"),
        ({"task": np.array("ranking")}, "task", "classification' or 'regression"),
        ({"video": None, "mask_video": np.ones(N)}, "mask_video", "no 'video' array"),
    ],
)
def test_errors_name_file_and_field(tmp_path, over, field, msg):
    p = _write(tmp_path, **over)
    with pytest.raises(DataError, match=msg) as info:
        load_npz(p)
    assert info.value.source == str(p) and info.value.field == field
    assert str(p) in str(info.value) and f"field {field!r}" in str(info.value)


def test_nan_in_available_row(tmp_path):
    x = np.ones((N, 4))
    x[5, 2] = np.inf
    with pytest.raises(DataError, match=r"field 'audio': NaN/inf in 1 available rows \(first: row 5"):
        load_npz(_write(tmp_path, audio=x))


def test_object_array_refused(tmp_path):
    p = tmp_path / "evil.npz"
    arrays = _arrays(groups=np.array([object()] * N, dtype=object))
    np.savez(p, **arrays)
    with pytest.raises(DataError, match=r"evil\.npz: field 'groups': refused: object array"):
        load_npz(p)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_npz(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"bad\.npz"):
        load_npz(bad)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    with pytest.raises(DataError, match="single .npy"):
        load_npz(single)
    with pytest.raises(ValueError, match="npz needs"):
        create_dataset("npz")


def test_unknown_arrays_warned(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="hardymer.data.loaders.npz"):
        load_npz(_write(tmp_path, lables=np.zeros(N)))
    assert "lables" in caplog.text
