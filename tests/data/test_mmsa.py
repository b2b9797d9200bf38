"""``mmsa`` loader on generated pickles of MMSA's real layout and shapes (tests/data/fakes/mmsa.py)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from fakes.mmsa import make_mmsa, write_mmsa

from hardymer.data import create_dataset
from hardymer.errors import ConfigError, DataError


def _by_id(data: dict) -> dict[str, tuple[str, int]]:
    return {u: (p, i) for p, part in data.items() for i, u in enumerate(part["id"].tolist())}


def test_unaligned_mosi_layout_groups_order_and_mean_pooling(tmp_path: Path) -> None:
    data = make_mmsa(seed=1, videos=6, clips=11)
    write_mmsa(tmp_path / "unaligned_50.pkl", data)
    ds = create_dataset("mmsa", root=tmp_path)  # the folder: finds unaligned_50.pkl
    assert ds.task == "regression" and ds.label_range == (-3.0, 3.0)
    assert ds.source == str(tmp_path / "unaligned_50.pkl")  # errors about its parts name the pickle
    assert ds.dims == {"a": 5, "t": 768, "v": 20}
    assert len(ds) == 66 and len(np.unique(ds.groups)) == 6
    # groups from the video id, order by numeric clip number (10 and 11 after 9)
    first = ds.utt_ids[ds.groups == "vid000x"]
    assert first.tolist() == [f"vid000x$_${c}" for c in range(1, 12)]
    assert ds.order[ds.groups == "vid000x"].tolist() == list(range(11))
    # splits = the pickle's parts
    fold = ds.fold("standard")
    for part, idx in (("train", fold.train), ("valid", fold.val), ("test", fold.test)):
        assert set(ds.utt_ids[idx].tolist()) == set(data[part]["id"].tolist())
    where = _by_id(data)
    for r in (0, 17, 65):
        p, i = where[ds.utt_ids[r]]
        src = data[p]
        la, lv = int(src["audio_lengths"][i]), int(src["vision_lengths"][i])
        lt = int(src["text_bert"][i, 1].sum())
        np.testing.assert_allclose(ds.features["a"][r], src["audio"][i, :la].mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ds.features["v"][r], src["vision"][i, :lv].mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ds.features["t"][r], src["text"][i, :lt].mean(0), rtol=1e-5, atol=1e-6)
        assert ds.labels[r] == pytest.approx(float(src["regression_labels"][i]))
    assert ds.available.all()


@pytest.mark.parametrize("pooling", ["meanstd", "max"])
def test_pooling_options(tmp_path: Path, pooling: str) -> None:
    data = make_mmsa(seed=2)
    path = write_mmsa(tmp_path / "unaligned_50.pkl", data)
    ds = create_dataset("mmsa", root=path, pooling=pooling)
    where = _by_id(data)
    r = 5
    p, i = where[ds.utt_ids[r]]
    la = int(data[p]["audio_lengths"][i])
    frames = data[p]["audio"][i, :la].astype(np.float64)
    if pooling == "meanstd":
        assert ds.dims == {"a": 10, "t": 1536, "v": 40}
        want = np.concatenate([frames.mean(0), frames.std(0)])
    else:
        assert ds.dims == {"a": 5, "t": 768, "v": 20}
        want = frames.max(0)
    np.testing.assert_allclose(ds.features["a"][r], want, rtol=1e-5, atol=1e-6)


def test_aligned_uses_text_mask_for_every_modality(tmp_path: Path) -> None:
    data = make_mmsa(aligned=True, seed=3)
    assert data["train"]["audio"].shape[1:] == (50, 5) and "audio_lengths" not in data["train"]
    path = write_mmsa(tmp_path / "aligned_50.pkl", data)
    ds = create_dataset("mmsa", root=path)
    where = _by_id(data)
    for r in range(len(ds)):
        p, i = where[ds.utt_ids[r]]
        k = int(data[p]["text_bert"][i, 1].sum())
        np.testing.assert_allclose(ds.features["v"][r], data[p]["vision"][i, :k].mean(0), rtol=1e-5, atol=1e-6)


def test_aligned_without_text_bert_uses_nonzero_frames(tmp_path: Path) -> None:
    data = make_mmsa(aligned=True, seed=4)
    for part in data.values():
        del part["text_bert"]
        part["audio"][0, :] = 0.0
        part["audio"][0, 3] = 1.0  # one non-zero frame in the middle
    path = write_mmsa(tmp_path / "aligned_50.pkl", data)
    ds = create_dataset("mmsa", root=path)
    r = int(np.flatnonzero(ds.utt_ids == data["train"]["id"][0])[0])
    np.testing.assert_allclose(ds.features["a"][r], np.ones(5))


def test_zero_length_makes_modality_unavailable_for_that_utterance(tmp_path: Path) -> None:
    data = make_mmsa(seed=5)
    data["train"]["vision_lengths"][2] = 0
    data["test"]["audio_lengths"][0] = 0
    data["train"]["audio"][1, 0, 0] = -np.inf  # MMSA sets -inf audio values to 0
    path = write_mmsa(tmp_path / "unaligned_50.pkl", data)
    ds = create_dataset("mmsa", root=path)
    rv = int(np.flatnonzero(ds.utt_ids == data["train"]["id"][2])[0])
    ra = int(np.flatnonzero(ds.utt_ids == data["test"]["id"][0])[0])
    assert ds.available[:, 2].sum() == len(ds) - 1 and not ds.available[rv, 2]
    assert ds.available[:, 0].sum() == len(ds) - 1 and not ds.available[ra, 0]
    assert (ds.features["v"][rv] == 0).all() and (ds.features["a"][ra] == 0).all()
    assert np.isfinite(ds.features["a"]).all()


def test_classification_labels(tmp_path: Path) -> None:
    data = make_mmsa(seed=6)
    path = write_mmsa(tmp_path / "unaligned_50.pkl", data)
    ds = create_dataset("mmsa", root=path, task="classification")
    assert ds.task == "classification" and ds.class_names == ["negative", "neutral", "positive"]
    where = _by_id(data)
    want = [int(data[p]["classification_labels"][i]) for p, i in (where[u] for u in ds.utt_ids)]
    assert ds.labels.tolist() == want


def test_sims_unimodal_labels_and_range(tmp_path: Path) -> None:
    data = make_mmsa(seed=7, sims=True)
    path = write_mmsa(tmp_path / "unaligned_50.pkl", data)
    ds = create_dataset("mmsa", root=path, label_range="-1,1")
    assert ds.label_range == (-1.0, 1.0)
    assert set(ds.meta["unimodal_labels"]) == {"T", "A", "V"}
    assert len(ds.meta["unimodal_labels"]["T"]) == len(ds)


def test_drop_makes_a_modality_absent(tmp_path: Path) -> None:
    path = write_mmsa(tmp_path / "unaligned_50.pkl", seed=8)
    ds = create_dataset("mmsa", root=path, drop="v")
    assert ds.dims["v"] == 1 and not ds.available[:, 2].any() and ds.available[:, :2].all()
    assert ds.absent_modalities == ["v"]
    assert ds.summary()["absent"] == ["v"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_hostile_pickle_refused_naming_the_file(tmp_path: Path) -> None:
    data = make_mmsa(seed=9)
    data["train"]["raw_text"] = _Evil()
    path = tmp_path / "unaligned_50.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=4)
    with pytest.raises(DataError, match=r"unaligned_50\.pkl.*refusing to load global"):
        create_dataset("mmsa", root=path)


def test_missing_key_and_part_named(tmp_path: Path) -> None:
    data = make_mmsa(seed=10)
    del data["valid"]["vision"]
    path = write_mmsa(tmp_path / "unaligned_50.pkl", data)
    with pytest.raises(DataError, match=r"valid\.vision.*required key is missing"):
        create_dataset("mmsa", root=path)
    del data["test"]
    path = write_mmsa(tmp_path / "x.pkl", data)
    with pytest.raises(DataError, match=r"'test'.*missing"):
        create_dataset("mmsa", root=path)


def test_bad_options(tmp_path: Path) -> None:
    path = write_mmsa(tmp_path / "unaligned_50.pkl", seed=11)
    with pytest.raises(ConfigError, match="token ids"):
        create_dataset("mmsa", root=path, text_key="text_bert")
    with pytest.raises(ConfigError, match="pooling"):
        create_dataset("mmsa", root=path, pooling="median")
    with pytest.raises(ConfigError, match="drop"):
        create_dataset("mmsa", root=path, drop="x")
    write_mmsa(tmp_path / "aligned_50.pkl", seed=11, aligned=True)
    with pytest.raises(ConfigError, match="pickle="):
        create_dataset("mmsa", root=tmp_path)
    ds = create_dataset("mmsa", root=tmp_path, pickle="aligned_50.pkl")
    assert ds.meta["aligned"] is True


def test_train_and_bench_on_an_mmsa_pickle_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hardymer.cli import app

    path = write_mmsa(tmp_path / "unaligned_50.pkl", seed=12, videos=12, clips=3)
    runner = CliRunner()
    r = runner.invoke(app, ["data", "info", "mmsa", "--root", str(path), "--data-opt", "pooling=meanstd"])
    assert r.exit_code == 0, r.output
    assert "a=10, t=1536, v=40" in r.output
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            "mmsa",
            "--root",
            str(path),
            "--method",
            "zero-fill",
            "--epochs",
            "2",
            "--condition",
            "at",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"] == f"mmsa-{tmp_path.name}"
    assert np.isfinite(m["test"]["mae"])


def test_bench_on_an_mmsa_pickle_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hardymer.cli import app

    path = write_mmsa(tmp_path / "unaligned_50.pkl", seed=13, videos=12, clips=3)
    r = CliRunner().invoke(
        app,
        [
            "bench",
            "--dataset",
            "mmsa",
            "--root",
            str(path),
            "--methods",
            "zero-fill",
            "--conditions",
            "t,atv",
            "--seeds",
            "0",
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "bench"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "bench" / "results.json").is_file()


def test_pickle_written_by_numpy_1_loads(tmp_path: Path) -> None:
    """MMSA's files were written with numpy 1.x: globals under ``numpy.core.multiarray``."""
    blob = pickle.dumps(make_mmsa(seed=14), protocol=2)
    legacy = blob.replace(b"numpy._core.", b"numpy.core.")
    if legacy == blob and b"numpy.core." not in blob:
        pytest.skip("this numpy pickles arrays without numpy.core globals")
    path = tmp_path / "unaligned_50.pkl"
    path.write_bytes(legacy)
    ds = create_dataset("mmsa", root=path)
    assert len(ds) == 18 and ds.dims == {"a": 5, "t": 768, "v": 20}


def test_dataset_named_after_the_corpus_folder(tmp_path):
    from hardymer.data.loaders.mmsa import corpus_name, load_mmsa

    path = write_mmsa(tmp_path / "SIMS" / "Processed" / "unaligned_39.pkl", seed=3, videos=6, clips=2)
    assert corpus_name(path) == "SIMS"
    assert load_mmsa(path).name == "mmsa-SIMS"
    assert corpus_name(tmp_path / "MOSEI" / "aligned_50.pkl") == "MOSEI"
