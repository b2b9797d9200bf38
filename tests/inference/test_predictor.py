import csv
import io

import numpy as np
import pytest
from typer.testing import CliRunner

import hardymer
from hardymer.cli import app
from hardymer.config import load_config
from hardymer.data import create_dataset
from hardymer.data.loaders.synthetic import CLASS_NAMES
from hardymer.errors import DataError
from hardymer.evaluation.metrics import compute_metrics
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.training.run import run_experiment

runner = CliRunner()


def _flat(text):
    """CLI output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tiny():
    return create_dataset("synthetic", size="tiny", seed=3)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny, tiny_config):
    """A tiny backbone (attends across the utterances of a group) trained on all modalities."""
    out = tmp_path_factory.mktemp("predictor") / "run"
    cfg = tiny_config(
        out,
        method="backbone",
        method_options={"hidden": 16, "depth": 1, "decoder_hidden": 32},
        train={"num_threads": 1},
        cache_dir=None,
    )
    run_experiment(cfg, ds=tiny)
    return out / "checkpoint.pt"


def _test_rows(ds):
    te = ds.fold(0).test
    return te, {
        "audio": ds.features["a"][te],
        "text": ds.features["t"][te],
        "video": ds.features["v"][te],
        "groups": ds.groups[te],
        "order": ds.order[te],
    }


def _assert_metrics_equal(got, want):
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-6), k


def test_predict_all_modalities_reproduces_evaluate_checkpoint(ckpt, tiny):
    te, inp = _test_rows(tiny)
    model = hardymer.load(ckpt)
    assert model.task == "classification" and model.dims == tiny.dims
    pred = model.predict(**inp)
    assert pred.modalities == ["atv"] * len(te) and pred.scores is None
    want = evaluate_checkpoint(ckpt, ["atv"], split="test")["atv"]
    _assert_metrics_equal(compute_metrics("classification", tiny.labels[te], pred.probs), want)
    # rows in any order (groups and order say where each utterance sits) give the same per-row outputs
    perm = np.random.default_rng(0).permutation(len(te))
    shuffled = model.predict(**{k: v[perm] for k, v in inp.items()}, batch_size=2)
    np.testing.assert_allclose(shuffled.probs, pred.probs[perm], atol=1e-5)


def test_predict_without_video_equals_condition_at(ckpt, tiny):
    te, inp = _test_rows(tiny)
    model = hardymer.load(ckpt)
    pred = model.predict(**{**inp, "video": None})
    assert pred.modalities == ["at"] * len(te)
    want = evaluate_checkpoint(ckpt, ["at"], split="test")["at"]
    _assert_metrics_equal(compute_metrics("classification", tiny.labels[te], pred.probs), want)


def test_masks_mark_a_modality_missing_for_some_rows(ckpt, tiny):
    te, inp = _test_rows(tiny)
    model = hardymer.load(ckpt)
    full = model.predict(**inp)
    no_video = model.predict(**{**inp, "video": None})
    g0 = inp["groups"] == inp["groups"][0]  # video missing for the whole first group
    assert 0 < g0.sum() < len(te)
    assert not np.allclose(no_video.probs[g0], full.probs[g0], atol=1e-4)  # video does matter
    video = inp["video"].copy()
    video[g0] = np.nan  # masked rows may hold anything, NaN included
    pred = model.predict(**{**inp, "video": video}, masks={"video": ~g0})
    assert pred.modalities == ["at" if m else "atv" for m in g0]
    np.testing.assert_allclose(pred.probs[g0], no_video.probs[g0], atol=1e-5)
    np.testing.assert_allclose(pred.probs[~g0], full.probs[~g0], atol=1e-5)
    # the one-letter key works too
    same = model.predict(**{**inp, "video": video}, masks={"v": ~g0})
    np.testing.assert_allclose(same.probs, pred.probs, atol=1e-6)


def test_classification_outputs_probabilities_and_class_names(ckpt, tiny):
    _, inp = _test_rows(tiny)
    model = hardymer.load(ckpt)
    pred = model.predict(audio=inp["audio"][:5])  # text and video missing, no groups
    assert pred.probs.shape == (5, len(CLASS_NAMES))
    np.testing.assert_allclose(pred.probs.sum(1), 1.0, atol=1e-5)
    assert (pred.probs >= 0).all()
    assert model.class_names == CLASS_NAMES
    assert pred.labels == [CLASS_NAMES[i] for i in pred.probs.argmax(1)]
    assert pred.modalities == ["a"] * 5


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (lambda i: {"audio": i["audio"][:, :10], "text": i["text"]}, r"'audio'.*10 features.*expects 48"),
        (lambda i: {"video": i["text"]}, r"'video'.*64 features.*expects 32"),
        (lambda i: {"text": i["text"][0]}, r"'text'.*2-D array \[N, 64\]"),
        (
            lambda i: {"audio": np.where(np.arange(len(i["audio"]))[:, None] == 2, np.nan, i["audio"])},
            r"'audio'.*NaN/inf in 1 rows \(first row 2\)",
        ),
        (lambda i: {}, "no modality given"),
        (lambda i: {"audio": None, "text": None, "video": None}, "no modality given"),
        (lambda i: {"audio": i["audio"], "text": i["text"][:-1]}, r"'text'.*rows, other modalities have"),
        (
            lambda i: {"audio": i["audio"], "masks": {"audio": np.arange(len(i["audio"])) != 1}},
            r"1 utterances have no modality at all \(first row 1\)",
        ),
        (lambda i: {"audio": i["audio"], "masks": {"audio": np.ones(3, bool)}}, "mask shape"),
        (lambda i: {"audio": i["audio"], "groups": i["groups"][:-1]}, "'groups'"),
    ],
)
def test_predict_rejects_bad_inputs(ckpt, tiny, kwargs, needle):
    _, inp = _test_rows(tiny)
    model = hardymer.load(ckpt)
    with pytest.raises(DataError, match=needle):
        model.predict(**kwargs(inp))


def test_predict_chunks_groups_like_training_with_max_len(tmp_path, tiny, tiny_config):
    out = tmp_path / "ml"
    cfg = tiny_config(
        out,
        method="backbone",
        method_options={"hidden": 16, "depth": 1, "decoder_hidden": 32},
        train={"num_threads": 1, "max_len": 3},
        cache_dir=None,
    )
    run_experiment(cfg, ds=tiny)
    te, inp = _test_rows(tiny)
    model = hardymer.load(out / "checkpoint.pt")
    assert model.max_len == 3
    pred = model.predict(**inp)
    want = evaluate_checkpoint(out / "checkpoint.pt", ["atv"], split="test")["atv"]
    _assert_metrics_equal(compute_metrics("classification", tiny.labels[te], pred.probs), want)


def test_regression_returns_scores(tmp_path, tiny):
    out = tmp_path / "reg"
    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 3, "task": "regression"}},
            "method": {"name": "zero-fill", "options": {"hidden": 16}},
            "train": {"epochs": 2, "patience": 0, "num_threads": 1},
            "out": str(out),
            "cache_dir": None,
        }
    )
    ds = create_dataset("synthetic", size="tiny", seed=3, task="regression")
    run_experiment(cfg, ds=ds)
    te, inp = _test_rows(ds)
    pred = hardymer.load(out / "checkpoint.pt").predict(**{**inp, "audio": None})
    assert pred.probs is None and pred.labels is None and pred.scores.shape == (len(te),)
    want = evaluate_checkpoint(out / "checkpoint.pt", ["tv"], split="test")["tv"]
    _assert_metrics_equal(compute_metrics("regression", ds.labels[te], pred.scores), want)


# ---------------------------------------------------------------------------------- CLI
def test_predict_cli_writes_one_row_per_utterance(ckpt, tiny, tmp_path):
    te, inp = _test_rows(tiny)
    npz = tmp_path / "x.npz"
    np.savez(
        npz,
        audio=inp["audio"],
        text=inp["text"],
        groups=inp["groups"],
        order=inp["order"],
        utt_ids=tiny.utt_ids[te],
        mask_text=np.arange(len(te)) != 0,
    )
    out_csv = tmp_path / "y.csv"
    r = runner.invoke(app, ["predict", "--checkpoint", str(ckpt), "--input", str(npz), "--out", str(out_csv)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == len(te)
    assert list(rows[0]) == ["utt_id", "group", "modalities", "prediction"] + [f"p_{c}" for c in CLASS_NAMES]
    assert [r["utt_id"] for r in rows] == list(tiny.utt_ids[te])
    assert [r["group"] for r in rows] == list(inp["groups"])
    assert rows[0]["modalities"] == "a" and all(r["modalities"] == "at" for r in rows[1:])
    want = hardymer.load(ckpt).predict(
        audio=inp["audio"],
        text=inp["text"],
        groups=inp["groups"],
        order=inp["order"],
        masks={"text": np.arange(len(te)) != 0},
    )
    assert [r["prediction"] for r in rows] == want.labels
    np.testing.assert_allclose([[float(r[f"p_{c}"]) for c in CLASS_NAMES] for r in rows], want.probs, atol=1e-5)
    # without --out the CSV is printed as is (long lines are not wrapped to the terminal width)
    long_ids = np.array([f"an_utterance_with_a_rather_long_identifier_{i:04d}" for i in range(len(te))])
    np.savez(npz, audio=inp["audio"], text=inp["text"], groups=inp["groups"], utt_ids=long_ids)
    r = runner.invoke(app, ["predict", "--checkpoint", str(ckpt), "--input", str(npz)])
    assert r.exit_code == 0, r.output
    printed = list(csv.reader(io.StringIO(r.stdout)))  # logs go to stderr
    assert len(printed) == len(te) + 1 and [row[0] for row in printed[1:]] == list(long_ids)


def test_predict_cli_refuses_object_arrays_and_bad_files(ckpt, tmp_path):
    npz = tmp_path / "obj.npz"
    np.savez(npz, audio=np.array([np.zeros(48), "x"], dtype=object))
    r = runner.invoke(
        app, ["predict", "--checkpoint", str(ckpt), "--input", str(npz), "--out", str(tmp_path / "o.csv")]
    )
    assert r.exit_code == 2 and "object arrays are refused" in _flat(r.output)
    assert not (tmp_path / "o.csv").exists()
    r = runner.invoke(app, ["predict", "--checkpoint", str(ckpt), "--input", str(tmp_path / "missing.npz")])
    assert r.exit_code == 2 and "not found" in _flat(r.output)
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros((3, 48), np.float32))
    r = runner.invoke(app, ["predict", "--checkpoint", str(ckpt), "--input", str(npy)])
    assert r.exit_code == 2 and "not an .npz archive" in _flat(r.output)
    ids = tmp_path / "ids.npz"
    np.savez(ids, audio=np.zeros((3, 48), np.float32), utt_ids=np.array(["a", "b"]))
    r = runner.invoke(app, ["predict", "--checkpoint", str(ckpt), "--input", str(ids)])
    assert r.exit_code == 2 and "utt_ids shape (2,), expected (3,)" in _flat(r.output)
    bad = tmp_path / "bad.npz"
    np.savez(bad, audio=np.zeros((3, 7), np.float32))
    r = runner.invoke(app, ["predict", "--checkpoint", str(ckpt), "--input", str(bad)])
    assert r.exit_code == 2 and "expects 48" in _flat(r.output) and "bad.npz" in "".join(r.output.split())
