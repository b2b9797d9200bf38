"""GCNet-format loader on generated datasets (tests/data/fakes/gcnet.py) and, where ../shared has them,
on the real label pickles with generated ``.npy`` features (marked ``shared``)."""

from __future__ import annotations

import copy
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fakes.gcnet import CLASSES6, FakeGCNet, make_gcnet, make_iemocap, make_mosi, write_features, write_pickle

from hardymer.data import create_dataset
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.loaders.gcnet import iemocap_folds, load_gcnet
from hardymer.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
LABELS = SHARED / "data" / "gcnet-labels"
P4 = "IEMOCAP_features_raw_4way.pkl"
P6 = "IEMOCAP_features_raw_6way.pkl"
PMOSI = "CMUMOSI_features_raw_2way.pkl"
DIMS = {"a": 512, "t": 1024, "v": 1024}  # wav2vec-large-c-UTT, deberta-large-4-UTT, manet_UTT
FEAT = {"a": "wav2vec-large-c-UTT", "t": "deberta-large-4-UTT", "v": "manet_UTT"}


def _need(name: str) -> Path:
    p = LABELS / name
    if not p.is_file():
        pytest.skip(f"real GCNet label pickle not available: {p} (needs ../shared/data/gcnet-labels)")
    return p


def _mkdirs(root: Path) -> dict[str, Path]:
    out = {m: root / "features" / f for m, f in FEAT.items()}
    for p in out.values():
        p.mkdir(parents=True, exist_ok=True)
    return out


def _code(k: int) -> float:
    return float(k % 2000) / 8.0  # exact in float16/float32


def _write_all(root: Path, video_ids: dict, speakers: dict) -> dict[str, int]:
    """Real-dim features for every utterance; audio/text 1-D, video IEMOCAP folders with 2 face files."""
    d = _mkdirs(root)
    codes: dict[str, int] = {}
    base_v = np.zeros((3, DIMS["v"]), dtype=np.float32)
    for g in sorted(video_ids):
        for u, _speaker in zip(video_ids[g], speakers[g]):
            k = len(codes)
            codes[u] = k
            np.save(d["a"] / f"{u}.npy", np.full(DIMS["a"], _code(k), dtype=np.float32))
            np.save(d["t"] / f"{u}.npy", np.full(DIMS["t"], -_code(k), dtype=np.float32))
            (d["v"] / u).mkdir()
            np.save(d["v"] / u / "compress_F.npy", base_v + 1.0)
            np.save(d["v"] / u / "compress_M.npy", base_v + 2.0)
    return codes


@pytest.fixture(scope="module")
def iemocap_root(tmp_path_factory):
    """Both IEMOCAP pickles (symlinked) and real-dim features for the 5531 utterances of the 4-way set.

    The 6-way set's other 1902 utterances (excited + frustrated) have no files: unavailable there.
    """
    p4, p6 = _need(P4), _need(P6)
    root = tmp_path_factory.mktemp("iemocap")
    (root / P4).symlink_to(p4.resolve())
    (root / P6).symlink_to(p6.resolve())
    four = safe_load_pickle(p4)
    codes = _write_all(root, four[0], four[2])
    return root, codes


@pytest.fixture(scope="module")
def iemocap4(iemocap_root):
    return load_gcnet(iemocap_root[0], "iemocap4")


def _small_pickle(root: Path, n_per_session: int = 2, variant: str = P4) -> list:
    """A GCNet pickle made from the real one's first dialogues of every session."""
    obj = safe_load_pickle(_need(variant))
    by_session: dict[str, list[str]] = {}
    for g in sorted(obj[0]):
        by_session.setdefault(g[4], []).append(g)
    keep = [g for s in sorted(by_session) for g in by_session[s][:n_per_session]]
    small = [{g: list(obj[i][g]) for g in keep} for i in range(4)]
    small += [{g for g in keep if g in obj[4]}, {g for g in keep if g in obj[5]}]
    with open(root / variant, "wb") as fh:
        pickle.dump(small, fh, protocol=2)
    return small


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.shared)])
def small_root(request, tmp_path):
    """10 dialogues (2 per session), generated or the real pickle's first ones; small features:
    a 1-D, t [frames, d], v folders."""
    if request.param == "fake":
        small = make_iemocap(seed=0, dialogues_per_session=2)[0]
        write_pickle(tmp_path / P4, small)
    else:
        small = _small_pickle(tmp_path)
    d = _mkdirs(tmp_path)
    for g in small[0]:
        for u in small[0][g]:
            np.save(d["a"] / f"{u}.npy", np.ones(4, dtype=np.float32))
            np.save(d["t"] / f"{u}.npy", np.ones((2, 6), dtype=np.float32))
            (d["v"] / u).mkdir()
            np.save(d["v"] / u / "compress_F.npy", np.full((2, 5), 1.0, dtype=np.float32))
            np.save(d["v"] / u / "compress_M.npy", np.full((3, 5), 2.0, dtype=np.float32))
    return tmp_path, small, d


# ------------------------------------------------------------------ generated IEMOCAP (no ../shared)
@pytest.fixture(scope="module")
def fake_iemocap(tmp_path_factory) -> FakeGCNet:
    """Both generated IEMOCAP pickles; features (video as per-speaker face folders) for the 4-way utterances."""
    return make_gcnet(tmp_path_factory.mktemp("fake_iemocap"), "iemocap4", seed=0)


@pytest.fixture(scope="module")
def fake_iemocap4(fake_iemocap):
    return load_gcnet(fake_iemocap.root, "iemocap4")


def test_fake_iemocap4_counts_folds_and_alignment(fake_iemocap, fake_iemocap4):
    ds, raw = fake_iemocap4, fake_iemocap.obj
    assert ds.name == "iemocap4" and ds.task == "classification"
    assert len(ds) == sum(len(v) for v in raw[0].values())
    assert len(np.unique(ds.groups)) == len(raw[0]) == 20
    assert ds.class_names == ["happy", "sad", "neutral", "angry"]
    assert ds.dims == {"a": 6, "t": 8, "v": 5}
    assert ds.available.all()
    assert ds.meta["label_pickle"] == str(fake_iemocap.root / P4)
    assert Counter(ds.labels.tolist()) == Counter(y for v in raw[1].values() for y in v)
    # row alignment: every row holds its own utterance's features, order = position in videoIDs
    assert ds.utt_ids.tolist() == fake_iemocap.utts
    for m in "atv":  # text averaged over frames, video the file of the utterance's own speaker
        np.testing.assert_array_equal(ds.features[m], np.stack([fake_iemocap.expected[m][u] for u in ds.utt_ids]))
    for i in range(len(ds)):
        g, k = ds.groups[i], ds.order[i]
        assert raw[0][g][k] == ds.utt_ids[i] and ds.labels[i] == raw[1][g][k] and ds.speakers[i] == raw[2][g][k]

    assert [f.name for f in ds.folds] == [f"session{k}" for k in range(1, 6)]
    session = np.array([g[4] for g in ds.groups])
    dialogues = sorted(raw[0])
    for k, f in enumerate(ds.folds, start=1):
        tr, va, te = (set(ds.groups[f.part(p)].tolist()) for p in ("train", "val", "test"))
        assert te == {g for g in dialogues if g[4] == str(k)}
        assert set(session[f.test]) == {str(k)}
        assert str(k) not in set(session[f.train]) | set(session[f.val])
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert len(f.train) + len(f.val) + len(f.test) == len(ds)
        train_d = sorted(g for g in dialogues if g[4] != str(k))
        expect = np.random.default_rng(0).choice(train_d, round(0.1 * len(train_d)), replace=False)
        assert va == set(expect.tolist()) and len(va) == 2
        assert ds.meta["val_dialogues"][f.name] == sorted(va)


def test_fake_iemocap6_counts_and_missing_files(fake_iemocap, fake_iemocap4):
    six = fake_iemocap.extra["iemocap6"]
    ds = load_gcnet(fake_iemocap.root, "iemocap6", dims="6,8,5")
    assert ds.name == "iemocap6" and len(ds) == sum(len(v) for v in six[0].values())
    assert ds.class_names == list(CLASSES6)
    assert sorted(np.unique(ds.labels).tolist()) == list(range(6))
    assert [f.name for f in ds.folds] == [f"session{k}" for k in range(1, 6)]
    # the utterances of the 4-way set have files, the others are unavailable in all three modalities
    has = np.isin(ds.utt_ids, fake_iemocap4.utt_ids)
    assert has.sum() == len(fake_iemocap4)
    assert ds.available[has].all() and not ds.available[~has].any()
    assert not any(ds.features[m][~has].any() for m in "atv")
    # the 4-way set is the 6-way set without frustrated, excited counted as happy
    assert set(ds.labels[~has].tolist()) == {5}
    four = dict(zip(fake_iemocap4.utt_ids.tolist(), fake_iemocap4.labels.tolist()))
    for u, y in zip(ds.utt_ids[has].tolist(), ds.labels[has].tolist()):
        assert four[u] == (0 if y == 4 else y)


def test_fake_iemocap_val_options(fake_iemocap4):
    ds = fake_iemocap4
    dialogues = sorted(set(ds.groups.tolist()))
    same, _ = iemocap_folds(ds.groups, dialogues, 0.1, 0, Path("x"))
    assert all(np.array_equal(a.val, b.val) and np.array_equal(a.train, b.train) for a, b in zip(same, ds.folds))
    other, _ = iemocap_folds(ds.groups, dialogues, 0.1, 1, Path("x"))
    assert any(set(a.val.tolist()) != set(b.val.tolist()) for a, b in zip(ds.folds, other))
    for a, b in zip(ds.folds, other):
        assert np.array_equal(a.test, b.test)
    bigger, _ = iemocap_folds(ds.groups, dialogues, 0.25, 0, Path("x"))
    n_groups = len(dialogues)
    assert all(
        len(np.unique(ds.groups[f.val])) == round(0.25 * (n_groups - len(np.unique(ds.groups[f.test])))) for f in bigger
    )


def test_fake_expected_dims_mismatch_names_file(fake_iemocap):
    with pytest.raises(DataError, match=r"manet_UTT.*compress_[FM]\.npy.*field 'features.v'.*expected 7"):
        load_gcnet(fake_iemocap.root, "iemocap4", dims="6,8,7")


def test_fake_is_deterministic(tmp_path):
    a = make_gcnet(tmp_path / "a", "iemocap4", seed=3)
    b = make_gcnet(tmp_path / "b", "iemocap4", seed=3)
    c = make_gcnet(tmp_path / "c", "iemocap4", seed=4)
    assert a.obj == b.obj and a.obj != c.obj
    assert all(np.array_equal(a.expected["t"][u], b.expected["t"][u]) for u in a.utts)


# ------------------------------------------------------------------ generated CMU-MOSI (no ../shared)
def test_fake_mosi_variant(tmp_path):
    raw = make_mosi(seed=0)
    first = next(u for g in sorted(raw[0]) for u in raw[0][g])
    write_pickle(tmp_path / PMOSI, raw)
    expected = write_features(tmp_path, raw, dims={"a": 8, "t": 16, "v": 12}, skip={first})
    # the first utterance: float16 audio frames and text, no video file
    np.save(tmp_path / "features" / FEAT["a"] / f"{first}.npy", np.ones((2, 8), dtype=np.float16))
    np.save(tmp_path / "features" / FEAT["t"] / f"{first}.npy", np.ones(16, dtype=np.float32))
    ds = create_dataset("gcnet-mosi", root=tmp_path)
    n = sum(len(v) for v in raw[0].values())
    assert ds.name == "gcnet-mosi" and ds.task == "regression" and len(ds) == n
    assert ds.origin == f"gcnet-mosi ({tmp_path / PMOSI})"
    f = ds.fold("standard")
    sizes = [sum(len(raw[0][g]) for g in raw[i]) for i in (4, 5, 6)]
    assert [len(f.train), len(f.val), len(f.test)] == sizes
    assert [len(np.unique(ds.groups[f.part(p)])) for p in ("train", "val", "test")] == [len(raw[i]) for i in (4, 5, 6)]
    assert set(ds.groups[f.test].tolist()) == set(raw[6])
    assert ds.labels.dtype == np.float32 and ds.labels.min() >= -3.0 and ds.labels.max() <= 3.0
    assert (ds.labels == 0).any()
    assert ds.dims == {"a": 8, "t": 16, "v": 12}
    assert ds.speakers is None
    i = int(np.flatnonzero(ds.utt_ids == first)[0])
    assert ds.available[i].tolist() == [True, True, False]
    assert ds.available.sum() == 3 * n - 1
    np.testing.assert_array_equal(ds.features["a"][i], np.ones(8, dtype=np.float32))
    rows = [j for j in range(n) if j != i]
    np.testing.assert_array_equal(ds.features["v"][rows], np.stack([expected["v"][u] for u in ds.utt_ids[rows]]))


def test_mosi_part_without_videos_names_the_pickle(tmp_path):
    make_gcnet(tmp_path, "mosi", n_videos=6, parts=(5, 1, 0))
    ds = load_gcnet(tmp_path, "mosi")
    with pytest.raises(DataError) as err:
        ds.check_fold(ds.fold("standard"))
    msg = str(err.value)
    assert "fold 'standard' has no test utterances" in msg
    assert str(tmp_path / PMOSI) in msg and msg.startswith("gcnet-mosi")


# ------------------------------------------------------------------ groups without utterances
@pytest.mark.parametrize("variant", ["iemocap4", "mosi"])
def test_group_without_utterances_is_refused(tmp_path, variant):
    fake = make_gcnet(tmp_path, variant, **({"n_videos": 6} if variant == "mosi" else {"dialogues_per_session": 2}))
    kind = "dialogue" if variant == "iemocap4" else "video"
    listed = sorted(fake.obj[4])[0]  # in trainVid
    for g, where in ((listed, " (listed in trainVid)"), ("Ses09F_orphan", "")):
        obj = copy.deepcopy(fake.obj)
        for i in range(4):
            obj[i][g] = []
        write_pickle(fake.pickle, obj)
        with pytest.raises(DataError) as err:
            load_gcnet(tmp_path, variant)
        msg = str(err.value)
        assert msg == f"{fake.pickle}: field 'videoIDs': {kind} {g!r}{where} has no utterances"
    write_pickle(fake.pickle, fake.obj)
    assert len(load_gcnet(tmp_path, variant)) == len(fake.utts)


def test_listed_group_not_in_videoids_is_refused(tmp_path):
    fake = make_gcnet(tmp_path, "iemocap4", dialogues_per_session=2)
    fake.obj[5].add("Ses05F_ghost")
    write_pickle(fake.pickle, fake.obj)
    with pytest.raises(
        DataError,
        match=r"IEMOCAP_features_raw_4way\.pkl: field 'trainVid/testVid': 1 listed groups "
        r"are not in videoIDs \(first 'Ses05F_ghost'\)",
    ):
        load_gcnet(tmp_path, "iemocap4")


# ------------------------------------------------------------------ real IEMOCAP label pickles
@pytest.mark.shared
def test_iemocap4_counts_folds_and_alignment(iemocap_root, iemocap4):
    root, codes = iemocap_root
    ds = iemocap4
    raw = safe_load_pickle(root / P4)
    assert ds.name == "iemocap4" and ds.task == "classification"
    assert len(ds) == 5531
    assert len(np.unique(ds.groups)) == 151
    assert ds.class_names == ["happy", "sad", "neutral", "angry"]
    assert ds.dims == DIMS
    assert ds.available.all()
    assert Counter(ds.labels.tolist()) == Counter(y for v in raw[1].values() for y in v)
    # row alignment: each row holds its own utterance's features, order = position in videoIDs
    for i in range(0, len(ds), 97):
        u, g = ds.utt_ids[i], ds.groups[i]
        assert ds.features["a"][i, 0] == _code(codes[u])
        assert ds.features["t"][i, 5] == -_code(codes[u])
        assert raw[0][g][ds.order[i]] == u
        assert ds.labels[i] == raw[1][g][ds.order[i]]
        assert ds.speakers[i] == raw[2][g][ds.order[i]]
    # speaker-specific face file on the real speakers
    v = ds.features["v"][:, 0]
    assert np.all(v[ds.speakers == "F"] == 1.0) and np.all(v[ds.speakers == "M"] == 2.0)

    assert [f.name for f in ds.folds] == [f"session{k}" for k in range(1, 6)]
    session = np.array([g[4] for g in ds.groups])
    dialogues = sorted(raw[0])
    for k, f in enumerate(ds.folds, start=1):
        tr, va, te = (set(ds.groups[f.part(p)].tolist()) for p in ("train", "val", "test"))
        assert te == {g for g in dialogues if g[4] == str(k)}
        assert set(session[f.test]) == {str(k)}
        assert str(k) not in set(session[f.train]) | set(session[f.val])
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert len(np.intersect1d(f.train, f.val)) == 0
        assert len(f.train) + len(f.val) + len(f.test) == len(ds)
        train_d = sorted(g for g in dialogues if g[4] != str(k))
        expect = np.random.default_rng(0).choice(train_d, round(0.1 * len(train_d)), replace=False)
        assert va == set(expect.tolist())
        assert ds.meta["val_dialogues"][f.name] == sorted(va)
        assert 10 <= len(va) <= 13


@pytest.mark.shared
def test_iemocap6_counts_and_missing_files(iemocap_root):
    ds = load_gcnet(iemocap_root[0], "iemocap6", dims="512,1024,1024")
    assert ds.name == "iemocap6" and len(ds) == 7433
    assert len(np.unique(ds.groups)) == 151
    assert ds.class_names == ["happy", "sad", "neutral", "angry", "excited", "frustrated"]
    assert sorted(np.unique(ds.labels).tolist()) == list(range(6))
    assert [f.name for f in ds.folds] == [f"session{k}" for k in range(1, 6)]
    # the utterances of the 4-way set have files, the others are unavailable in all three modalities
    has = np.isin(ds.utt_ids, list(iemocap_root[1]))
    assert has.sum() == 5531
    assert ds.available[has].all() and not ds.available[~has].any()
    assert not any(ds.features[m][~has].any() for m in "atv")
    # a fact of the real pickles: the 6-way set adds all frustrated utterances and 53 happy ones
    assert Counter(ds.labels[~has].tolist()) == {5: 1849, 0: 53}


@pytest.mark.shared
def test_iemocap_val_options(iemocap4):
    dialogues = sorted(set(iemocap4.groups.tolist()))
    same, _ = iemocap_folds(iemocap4.groups, dialogues, 0.1, 0, Path("x"))
    assert all(np.array_equal(a.val, b.val) and np.array_equal(a.train, b.train) for a, b in zip(same, iemocap4.folds))
    other, _ = iemocap_folds(iemocap4.groups, dialogues, 0.1, 1, Path("x"))
    assert any(set(a.val.tolist()) != set(b.val.tolist()) for a, b in zip(iemocap4.folds, other))
    for a, b in zip(iemocap4.folds, other):
        assert np.array_equal(a.test, b.test)
    bigger, _ = iemocap_folds(iemocap4.groups, dialogues, 0.25, 0, Path("x"))
    assert all(
        len(np.unique(iemocap4.groups[f.val])) == round(0.25 * (151 - len(np.unique(iemocap4.groups[f.test]))))
        for f in bigger
    )


def test_val_fraction_zero_and_invalid(small_root):
    root = small_root[0]
    none = load_gcnet(root, "iemocap4", val_fraction=0.0)
    assert all(len(f.val) == 0 for f in none.folds)
    with pytest.raises(ValueError, match="val_fraction"):
        load_gcnet(root, "iemocap4", val_fraction=1.0)


@pytest.mark.shared
def test_expected_dims_mismatch_names_file(iemocap_root):
    root = iemocap_root[0]
    with pytest.raises(DataError, match=r"manet_UTT.*compress_[FM]\.npy.*field 'features.v'.*expected 768"):
        load_gcnet(root, "iemocap4", dims="512,1024,768")


def test_registry_names(small_root):
    root = small_root[0]
    a = create_dataset("iemocap4", root=root)
    b = create_dataset("gcnet", root=root, variant="iemocap4")
    assert a.name == b.name == "iemocap4" and len(a) == len(b)
    with pytest.raises(ValueError, match="variant"):
        create_dataset("gcnet", root=root)
    with pytest.raises(ValueError, match="variant"):
        create_dataset("iemocap4", root=root, variant="mosi")


# ------------------------------------------------------------------ per-file behaviour (small subset, fake and real)
def test_small_subset_frame_average_speaker_and_folds(small_root):
    root, small, _ = small_root
    ds = load_gcnet(root, "iemocap4")
    assert len(ds) == sum(len(v) for v in small[0].values())
    assert ds.dims == {"a": 4, "t": 6, "v": 5}
    assert [f.name for f in ds.folds] == [f"session{k}" for k in range(1, 6)]
    # 8 training dialogues per fold -> round(0.8) = 1 validation dialogue
    assert all(len(np.unique(ds.groups[f.val])) == 1 for f in ds.folds)
    spk = ds.speakers
    assert np.all(ds.features["v"][spk == "F"] == 1.0) and np.all(ds.features["v"][spk == "M"] == 2.0)


def test_frame_averaging_missing_and_empty(small_root):
    root, small, d = small_root
    g = sorted(small[0])[0]
    u0, u1, u2 = small[0][g][:3]
    frames = np.arange(18, dtype=np.float32).reshape(3, 6)
    np.save(d["t"] / f"{u0}.npy", frames)
    (d["a"] / f"{u1}.npy").unlink()  # missing file
    np.save(d["t"] / f"{u2}.npy", np.zeros((0, 6), dtype=np.float32))  # empty -> unavailable
    ds = load_gcnet(root, "iemocap4")
    row = {u: i for i, u in enumerate(ds.utt_ids)}
    np.testing.assert_allclose(ds.features["t"][row[u0]], frames.mean(axis=0))
    assert ds.available[row[u1]].tolist() == [False, True, True]
    assert not ds.features["a"][row[u1]].any()
    assert ds.available[row[u2]].tolist() == [True, False, True]
    assert not ds.features["t"][row[u2]].any()
    assert ds.meta["availability"]["a"]["missing_or_empty"] == 1


def test_video_face_fallback(small_root):
    root, small, d = small_root
    raw_spk = {u: s for g in small[0] for u, s in zip(small[0][g], small[2][g])}
    u_f = next(u for u, s in raw_spk.items() if s == "F")
    u_m = next(u for u, s in raw_spk.items() if s == "M")
    (d["v"] / u_f / "compress_F.npy").unlink()  # own face absent -> the other file
    (d["v"] / u_m / "compress_M.npy").unlink()
    np.save(d["v"] / u_m / "compress_X.npy", np.full((1, 5), 4.0, dtype=np.float32))  # mean of those present
    u_none = next(u for u in raw_spk if u not in (u_f, u_m))
    for p in (d["v"] / u_none).iterdir():
        p.unlink()
    ds = load_gcnet(root, "iemocap4")
    row = {u: i for i, u in enumerate(ds.utt_ids)}
    assert np.all(ds.features["v"][row[u_f]] == 2.0)
    assert np.all(ds.features["v"][row[u_m]] == 2.5)
    assert not ds.available[row[u_none], 2] and not ds.features["v"][row[u_none]].any()


def test_wrong_dim_nan_corrupt_object(small_root):
    root, small, d = small_root
    us = [u for g in sorted(small[0]) for u in small[0][g]]
    np.save(d["a"] / f"{us[5]}.npy", np.ones(7, dtype=np.float32))
    with pytest.raises(DataError, match=rf"{us[5]}\.npy: field 'features.a': feature dim 7 differs from dim 4"):
        load_gcnet(root, "iemocap4")
    np.save(d["a"] / f"{us[5]}.npy", np.ones(4, dtype=np.float32))
    bad = np.ones((2, 6), dtype=np.float32)
    bad[1, 3] = np.nan
    np.save(d["t"] / f"{us[3]}.npy", bad)
    with pytest.raises(DataError, match=rf"{us[3]}\.npy: field 'features.t': contains NaN/inf"):
        load_gcnet(root, "iemocap4")
    np.save(d["t"] / f"{us[3]}.npy", np.ones((2, 6), dtype=np.float32))
    (d["a"] / f"{us[2]}.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=rf"{us[2]}\.npy: field 'features.a': not a readable"):
        load_gcnet(root, "iemocap4")
    np.save(d["a"] / f"{us[2]}.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=rf"{us[2]}\.npy: field 'features.a'"):
        load_gcnet(root, "iemocap4")
    np.save(d["a"] / f"{us[2]}.npy", np.ones(4, dtype=np.float32))
    load_gcnet(root, "iemocap4", dims=[4, 6, 5])


def test_missing_feature_folder_and_no_files(small_root):
    root, _, d = small_root
    with pytest.raises(DataError, match=r"features/no-such-feature: field 'features.t': text feature folder not found"):
        load_gcnet(root, "iemocap4", text_feature="no-such-feature")
    with pytest.raises(DataError, match="feature folder not found.*does not exist"):
        load_gcnet(root, "iemocap4", features_dir=root / "nowhere")
    for p in d["a"].iterdir():
        p.unlink()
    with pytest.raises(DataError, match="none of the .* utterances has a usable feature file"):
        load_gcnet(root, "iemocap4")


def test_bad_labels_in_pickle(small_root):
    root, small, _ = small_root
    g = sorted(small[0])[0]
    small[1][g][0] = 4
    with open(root / P4, "wb") as fh:
        pickle.dump(small, fh)
    with pytest.raises(
        DataError, match=r"IEMOCAP_features_raw_4way\.pkl: field 'videoLabels': label 4 .* out of range 0\.\.3"
    ):
        load_gcnet(root, "iemocap4")
    # a 4-way pickle is fine as 6-way by range, but a 6-way layout is checked by length
    with pytest.raises(DataError, match="expected a list"):
        load_gcnet(root, "mosi", label_pickle=root / P4)


class _Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def test_hostile_pickle_refused(tmp_path):
    marker = tmp_path / "pwned"
    obj = [{"Ses01F_x": ["u1"]}, {"Ses01F_x": [_Evil(marker)]}, {"Ses01F_x": ["F"]}, {}, set(), set()]
    (tmp_path / P4).write_bytes(pickle.dumps(obj))
    _mkdirs(tmp_path)
    with pytest.raises(DataError, match="refusing to load global"):
        load_gcnet(tmp_path, "iemocap4")
    assert not marker.exists()


def test_mosei_variant_synthetic_pickle(tmp_path):
    """No real MOSEI pickle here: same 7-element layout, built by hand."""
    vids = {f"vid{k}": [f"vid{k}_{j}" for j in range(3)] for k in range(6)}
    labels = {v: [-3.0, 0.0, 2.5] for v in vids}
    obj = [
        vids,
        labels,
        {v: [""] * 3 for v in vids},
        {v: ["s"] * 3 for v in vids},
        {"vid0", "vid1", "vid2"},
        {"vid3"},
        {"vid4", "vid5"},
    ]
    (tmp_path / "CMUMOSEI_features_raw_2way.pkl").write_bytes(pickle.dumps(obj, protocol=2))
    d = _mkdirs(tmp_path)
    for us in vids.values():
        for u in us:
            np.save(d["a"] / f"{u}.npy", np.ones((4, 3)))
            np.save(d["t"] / f"{u}.npy", np.ones(2))
            np.save(d["v"] / f"{u}.npy", np.ones((1, 5)))
    ds = create_dataset("gcnet-mosei", root=tmp_path)
    assert ds.name == "gcnet-mosei" and ds.task == "regression" and ds.label_range == (-3.0, 3.0)
    f = ds.fold("standard")
    assert (len(f.train), len(f.val), len(f.test)) == (9, 3, 6)
    assert ds.speakers is None
    labels["vid5"][1] = 3.5
    (tmp_path / "CMUMOSEI_features_raw_2way.pkl").write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(DataError, match=r"field 'videoLabels': label 3.5 of utterance 'vid5_1'"):
        load_gcnet(tmp_path, "mosei")


# ------------------------------------------------------------------ real MOSI pickle
@pytest.mark.shared
def test_mosi_variant(tmp_path):
    p = _need(PMOSI)
    (tmp_path / PMOSI).symlink_to(p.resolve())
    raw = safe_load_pickle(p)
    d = _mkdirs(tmp_path)
    missing = None
    for g in sorted(raw[0]):
        for u in raw[0][g]:
            np.save(d["a"] / f"{u}.npy", np.ones((2, 8), dtype=np.float16))
            np.save(d["t"] / f"{u}.npy", np.ones(16, dtype=np.float32))
            if missing is None:
                missing = u
                continue
            np.save(d["v"] / f"{u}.npy", np.ones(12, dtype=np.float32))
    ds = create_dataset("gcnet-mosi", root=tmp_path)
    assert ds.name == "gcnet-mosi" and ds.task == "regression" and len(ds) == 2199
    f = ds.fold("standard")
    assert (len(f.train), len(f.val), len(f.test)) == (1284, 229, 686)
    assert [len(np.unique(ds.groups[f.part(p)])) for p in ("train", "val", "test")] == [52, 10, 31]
    assert set(ds.groups[f.test].tolist()) == set(raw[6])
    assert ds.labels.min() == -3.0 and ds.labels.max() == 3.0
    assert ds.dims == {"a": 8, "t": 16, "v": 12}
    i = int(np.flatnonzero(ds.utt_ids == missing)[0])
    assert ds.available[i].tolist() == [True, True, False]
    assert ds.available.sum() == 3 * 2199 - 1
