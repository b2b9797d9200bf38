"""One case per class of bad input: one ``error:`` line on stderr naming the option, file or field, exit 2."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hardymer.cli import app

runner = CliRunner()
TINY = ["--data-opt", "size=tiny"]


def _fails(args: list[str], needle: str) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert [ln for ln in lines if ln.startswith("error:")] == [lines[-1]]
    assert needle in lines[-1], lines[-1]
    return lines[-1]


@pytest.mark.parametrize("extra,needle", [
    (["--epochs", "0"], "--epochs 0"),
    (["--lr", "inf"], "--lr inf"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--device", "cuda"], "--device cuda: CUDA is not available"),
    (["--data-opt", "colour=blue"], "synthetic has no option 'colour'; options:"),
    (["--method-opt", "hiden=3"], "has no option 'hiden'"),
    (["--seed", "3-1"], "--seed 3-1"),
    (["--seed", "0-"], "--seed 0-"),
    (["--set", "train.epochs=abc"], "--set train.epochs=abc"),
    (["--set", "train.patience=-1"], "train.patience=-1"),
    (["--condition", ","], "--condition"),
])
def test_cli_options(extra, needle, tmp_path):
    if needle.startswith("--device") and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    _fails(["train", *TINY, "--out", str(tmp_path / "o"), *extra], needle)


def test_out_is_a_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    _fails(["train", *TINY, "--out", str(f)], "is an existing file")


def test_bench_methods_empty(tmp_path):
    _fails(["bench", *TINY, "--methods", ",", "--out", str(tmp_path)], "--methods")


@pytest.mark.parametrize("text,needle", [("train: [1, 2\n", "not valid YAML"), ("- 1\n- 2\n", "expected a mapping"),
                                         ("train:\n  epochz: 3\n", "epochz")])
def test_config_yaml(text, needle, tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    msg = _fails(["train", *TINY, "--config", str(p), "--out", str(tmp_path / "o")], needle)
    assert str(p) in msg


def test_empty_validation_split(tmp_path):
    _fails(["train", "--data-opt", "size=tiny", "--data-opt", "split=[0.9,0.0,0.1]", "--epochs", "2",
            "--out", str(tmp_path)], "has no validation utterances")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = runner.invoke(app, ["train", *TINY, "--epochs", "2", "--condition", "at", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "checkpoint.pt"


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_predict_mask_value(trained, tmp_path):
    x = np.zeros((4, 48), np.float32)
    p = _npz(tmp_path / "in.npz", audio=x, mask_audio=np.array([1, 7, 0, 1]))
    _fails(["predict", "--checkpoint", str(trained), "--input", p], "mask_audio")


def test_predict_unknown_array(trained, tmp_path):
    p = _npz(tmp_path / "in.npz", audio=np.zeros((4, 48), np.float32), txet=np.zeros((4, 64), np.float32))
    msg = _fails(["predict", "--checkpoint", str(trained), "--input", p], "'txet'")
    assert "in.npz" in msg and "text" in msg


def test_checkpoint_shape_mismatch(trained, tmp_path):
    ck = torch.load(trained, weights_only=True)
    k = next(iter(ck["state_dict"]))
    ck["state_dict"][k] = torch.zeros(3, 3)
    bad = tmp_path / "bad.pt"
    torch.save(ck, bad)
    msg = _fails(["evaluate", "--checkpoint", str(bad)], k)
    assert str(bad) in msg


def test_checkpoint_missing_key(trained, tmp_path):
    ck = torch.load(trained, weights_only=True)
    del ck["standardizer"]
    bad = tmp_path / "bad.pt"
    torch.save(ck, bad)
    msg = _fails(["predict", "--checkpoint", str(bad), "--input", _npz(tmp_path / "i.npz", text=np.zeros((2, 64)))],
                 "standardizer")
    assert str(bad) in msg


def test_evaluate_condition_without_data(tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", *TINY, "--epochs", "2", "--condition", "at", "--out", str(out)])
    assert r.exit_code == 0, r.output
    _fails(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--condition", "atv", "--split", "nope"], "--split")


def test_full_disk_leaves_no_temp_file(tmp_path, monkeypatch):
    from hardymer import _io
    from hardymer.errors import DiskError

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.os, "replace", full)
    with pytest.raises(DiskError, match=r"m\.json: cannot write"):
        _io.atomic_write_json(tmp_path / "m.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_train_on_full_disk_cli(tmp_path, monkeypatch):
    from hardymer import _io

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.os, "replace", full)
    _fails(["train", *TINY, "--epochs", "2", "--out", str(tmp_path)], "No space left on device")
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_verbose_adds_traceback(tmp_path):
    r = runner.invoke(app, ["-v", "train", *TINY, "--epochs", "0", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "Traceback" in r.stderr and "error: --epochs 0" in r.stderr
