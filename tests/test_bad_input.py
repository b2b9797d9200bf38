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


@pytest.mark.parametrize(
    "extra,needle",
    [
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
    ],
)
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


@pytest.mark.parametrize(
    "text,needle",
    [("train: [1, 2\n", "not valid YAML"), ("- 1\n- 2\n", "expected a mapping"), ("train:\n  epochz: 3\n", "epochz")],
)
def test_config_yaml(text, needle, tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    msg = _fails(["train", *TINY, "--config", str(p), "--out", str(tmp_path / "o")], needle)
    assert str(p) in msg


def test_empty_validation_split(tmp_path):
    _fails(
        [
            "train",
            "--data-opt",
            "size=tiny",
            "--data-opt",
            "split=[0.9,0.0,0.1]",
            "--epochs",
            "2",
            "--out",
            str(tmp_path),
        ],
        "has no validation utterances",
    )


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
    msg = _fails(
        ["predict", "--checkpoint", str(bad), "--input", _npz(tmp_path / "i.npz", text=np.zeros((2, 64)))],
        "standardizer",
    )
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


@pytest.mark.parametrize(
    "args,needle",
    [
        (["bench", *TINY, "--methods", "zero-fill", "--workers", "0"], "--workers 0: must be >= 1"),
        (["bench", *TINY, "--methods", "zero-fill", "--threads", "0"], "--threads 0: must be >= 1"),
        (["bench", *TINY, "--methods", "zero-fill", "--backend", "nope"], "--backend nope: unknown backend"),
        (["tune", *TINY, "--method", "zero-fill", "--workers", "0"], "--workers 0: must be >= 1"),
    ],
)
def test_parallelism_options(args, needle, tmp_path):
    _fails([*args, "--out", str(tmp_path / "o")], needle)
    assert not (tmp_path / "o").exists()  # refused before any work


@pytest.mark.parametrize(
    "method,extra,needle",
    [
        (
            "backbone",
            ["--epochs", "1"],
            "--epochs 1: backbone trains 2 stages (stage 1: 0 epochs, stage 2: 1); give at least 2",
        ),
        (
            "hardymer",
            ["--epochs", "2", "--method-opt", "stage1_fraction=0.8"],
            "--epochs 2: hardymer trains 2 stages (stage 1: 2 epochs, stage 2: 0); give at least 3",
        ),
        ("momke", ["--epochs", "1"], "momke trains 2 stages"),
    ],
)
def test_two_stage_method_needs_both_stages(method, extra, needle, tmp_path):
    _fails(["train", *TINY, "--method", method, *extra, "--out", str(tmp_path / "o")], needle)
    _fails(
        [
            "bench",
            *TINY,
            "--methods",
            method,
            *extra,
            "--seeds",
            "0",
            "--conditions",
            "a",
            "--out",
            str(tmp_path / "b"),
        ],
        "trains 2 stages",
    )


def test_two_stage_check_uses_the_method_rule():
    from hardymer.catalog.validation import check_stages, stage_lengths
    from hardymer.errors import ConfigError
    from hardymer.models import MethodSpec, create_method

    spec = MethodSpec(dims={"a": 4, "t": 4, "v": 4}, output_dim=2, task="classification")
    for fraction in (0.3, 0.5, 0.8):
        model = create_method("backbone", spec, hidden=8, decoder_hidden=8, stage1_fraction=fraction)
        for epochs in range(1, 8):
            s1 = model.stage1_epochs(epochs)
            assert stage_lengths("backbone", {"stage1_fraction": fraction}, epochs) == (s1, epochs - s1)
            ok = s1 >= 1 and epochs - s1 >= 1
            if ok:
                check_stages("backbone", {"stage1_fraction": fraction}, {"epochs": epochs})
            else:
                with pytest.raises(ConfigError, match=f"--epochs {epochs}: backbone trains 2 stages"):
                    check_stages("backbone", {"stage1_fraction": fraction}, {"epochs": epochs})
    assert stage_lengths("zero-fill", {}, 1) is None  # one stage: any epochs
    check_stages("zero-fill", {}, {"epochs": 1})
    check_stages("backbone", {}, {"epochs": 3, "stage2_steps": 5})  # stage 2 lasts its steps


def test_predict_string_features(trained, tmp_path):
    p = _npz(tmp_path / "new.npz", audio=np.array([["a"] * 48] * 4))
    msg = _fails(
        ["predict", "--checkpoint", str(trained), "--input", p], "array 'audio' has dtype <U1, expected numbers"
    )
    assert msg.startswith(f"error: {p}: ")
    p = _npz(tmp_path / "order.npz", text=np.zeros((2, 64), np.float32), order=np.array(["x", "y"]))
    _fails(["predict", "--checkpoint", str(trained), "--input", p], "array 'order' has dtype <U1, expected numbers")


def test_predict_api_string_features(trained):
    import hardymer
    from hardymer.errors import DataError

    with pytest.raises(DataError, match="field 'text': dtype <U1, expected numbers"):
        hardymer.load(trained).predict(text=np.array([["x"] * 64] * 2))


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", *TINY, "--method", "hardymr"], "--method hardymr: unknown method or preset; methods:"),
        (["bench", *TINY, "--methods", "zero-fill,bakbone"], "did you mean 'backbone'?"),
        (["tune", *TINY, "--method", "momk"], "did you mean 'momke'?"),
        (["train", "--dataset", "synthtic"], "did you mean 'synthetic'?"),
        (["bench", "--dataset", "synthtic", "--methods", "zero-fill"], "did you mean 'synthetic'?"),
        (["data", "info", "synthtic"], "did you mean 'synthetic'?"),
    ],
)
def test_unknown_names_suggest_the_nearest(args, needle, tmp_path):
    msg = _fails([*args, *(["--out", str(tmp_path / "o")] if args[0] != "data" else [])], needle)
    if args[0] == "train" and "hardymr" in args:
        assert "did you mean 'hardymer'?" in msg


def test_bench_method_opt_unknown_to_every_method(tmp_path):
    _fails(
        ["bench", *TINY, "--methods", "zero-fill,backbone", "--method-opt", "K=3", "--out", str(tmp_path)],
        "--method-opt K=3: none of zero-fill, backbone has an option 'K'",
    )
