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
    r = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            "synthetic",
            "--data-opt",
            "size=tiny",
            "--epochs",
            "3",
            "--condition",
            "at",
            "--seed",
            "1",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["seed"] == 1 and m["condition"] == "at"
    r = runner.invoke(app, ["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--condition", "at", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["at"]["wa"] == pytest.approx(m["test"]["wa"], abs=1e-6)


def test_train_several_conditions_layout(tmp_path):
    r = runner.invoke(
        app,
        [
            "train",
            "--data-opt",
            "size=tiny",
            "--epochs",
            "2",
            "--condition",
            "a,tv",
            "--seed",
            "0-1",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    for c in ("a", "tv"):
        for s in (0, 1):
            assert (tmp_path / c / f"seed{s}" / "metrics.json").is_file()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "--condition", "xz"], "condition"),
        (["train", "--dataset", "nope"], "unknown dataset"),
        (["train", "--method", "nope", "--data-opt", "size=tiny"], "unknown method"),
        (["data", "info", "mosi-poria", "--root", "/nonexistent/dir"], "not found"),
    ],
)
def test_cli_errors_are_clear(args, needle, tmp_path):
    r = runner.invoke(app, args + (["--out", str(tmp_path)] if args[0] == "train" else []))
    assert r.exit_code == 2
    assert needle in r.output


def test_data_info_synthetic():
    r = runner.invoke(app, ["data", "info", "synthetic", "--data-opt", "size=tiny"])
    assert r.exit_code == 0, r.output
    assert "utterances" in r.output and "default" in r.output


TINY = ["--dataset", "synthetic", "--data-opt", "size=tiny", "--epochs", "2"]


def test_train_from_a_runs_config_reproduces_it(tmp_path):
    """config.yaml of a run is a complete recipe: every key (condition, seed, protocol, out) is used."""
    first = tmp_path / "first"
    r = runner.invoke(
        app, ["train", *TINY, "--condition", "tv", "--seed", "3", "--set", "cache_dir=null", "--out", str(first)]
    )
    assert r.exit_code == 0, r.output
    again = tmp_path / "again"
    r = runner.invoke(app, ["train", "--config", str(first / "config.yaml"), "--out", str(again)])
    assert r.exit_code == 0, r.output
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (first, again))
    assert (b["condition"], b["seed"], b["protocol"]) == ("tv", 3, "fixed")
    assert b["config_hash"] == a["config_hash"]
    assert b["test"] == a["test"] and b["val"] == a["val"] and b["best_epoch"] == a["best_epoch"]


def test_train_config_file_keys_win_over_defaults_and_flags_win_over_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "condition: a\nseed: 2\nprotocol: fixed\nout: from-file\ncache_dir: null\n"
        "data: {options: {size: tiny}}\ntrain: {epochs: 2}\n"
    )
    r = runner.invoke(app, ["train", "--config", "c.yaml"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "from-file" / "metrics.json").read_text())
    assert (m["condition"], m["seed"]) == ("a", 2) and not (tmp_path / "runs").exists()
    r = runner.invoke(app, ["train", "--config", "c.yaml", "--seed", "4", "--condition", "at", "--out", "flags"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "flags" / "metrics.json").read_text())
    assert (m["condition"], m["seed"]) == ("at", 4)
    log = " ".join(r.stderr.split())
    assert "--seed 4 overrides seed: 2 of --config c.yaml" in log
    assert "--condition at overrides condition: a" in log and "--out flags overrides out: from-file" in log
    # a file naming several conditions (as tune's best.yaml may): one run per condition
    (tmp_path / "two.yaml").write_text(
        "condition: a,t\ncache_dir: null\ndata: {options: {size: tiny}}\ntrain: {epochs: 2}\n"
    )
    r = runner.invoke(app, ["train", "--config", "two.yaml", "--out", "two"])
    assert r.exit_code == 0, r.output
    assert {
        json.loads((tmp_path / "two" / c / "seed0" / "metrics.json").read_text())["condition"] for c in ("a", "t")
    } == {"a", "t"}


def test_tune_best_yaml_names_conditions_protocol_and_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.yaml").write_text("common:\n  train.lr: {type: float, low: 1.0e-3, high: 3.0e-3}\n")
    r = runner.invoke(
        app,
        [
            "tune",
            "--method",
            "zero-fill",
            "--data-opt",
            "size=tiny",
            "--condition",
            "a,tv",
            "--trials",
            "1",
            "--seed",
            "0",
            "--set",
            "train.epochs=2",
            "--set",
            "cache_dir=null",
            "--space",
            "space.yaml",
            "--out",
            "tune",
        ],
    )
    assert r.exit_code == 0, r.output
    import yaml

    best = yaml.safe_load((tmp_path / "tune" / "best.yaml").read_text())
    assert (best["condition"], best["protocol"], best["out"]) == ("a,tv", "fixed", "tune/train")
    r = runner.invoke(app, ["train", "--config", "tune/best.yaml"])
    assert r.exit_code == 0, r.output
    for c in ("a", "tv"):
        assert json.loads((tmp_path / "tune" / "train" / c / "seed0" / "metrics.json").read_text())["condition"] == c
