import json

import pytest
from typer.testing import CliRunner

from hardymer.cli import app, parse_seeds

runner = CliRunner()


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("1,3") == [1, 3]


def test_train_and_evaluate_cli(tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--dataset", "synthetic", "--data-opt", "size=tiny", "--epochs", "3",
                            "--condition", "at", "--seed", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["seed"] == 1 and m["condition"] == "at"
    r = runner.invoke(app, ["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--condition", "at", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["at"]["wa"] == pytest.approx(m["test"]["wa"], abs=1e-6)


def test_train_several_conditions_layout(tmp_path):
    r = runner.invoke(app, ["train", "--data-opt", "size=tiny", "--epochs", "2", "--condition", "a,tv",
                            "--seed", "0-1", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for c in ("a", "tv"):
        for s in (0, 1):
            assert (tmp_path / c / f"seed{s}" / "metrics.json").is_file()


@pytest.mark.parametrize("args,needle", [
    (["train", "--condition", "xz"], "condition"),
    (["train", "--dataset", "nope"], "unknown dataset"),
    (["train", "--method", "nope", "--data-opt", "size=tiny"], "unknown method"),
    (["data", "info", "mosi-poria", "--root", "/nonexistent/dir"], "not found"),
])
def test_cli_errors_are_clear(args, needle, tmp_path):
    r = runner.invoke(app, args + (["--out", str(tmp_path)] if args[0] == "train" else []))
    assert r.exit_code == 2
    assert needle in r.output


def test_data_info_synthetic():
    r = runner.invoke(app, ["data", "info", "synthetic", "--data-opt", "size=tiny"])
    assert r.exit_code == 0, r.output
    assert "utterances" in r.output and "default" in r.output
