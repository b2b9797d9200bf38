"""CLI: option spellings shared by train and bench, presets in train, refusal of a changed config,
per-epoch lines off a terminal, history.csv, info and --version."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from hardymer import __version__
from hardymer.catalog.presets import resolve_method
from hardymer.cli import app

runner = CliRunner()
TINY = ["--dataset", "synthetic", "--data-opt", "size=tiny"]


def _epochs(args: list[str], n: int) -> list[str]:
    i = args.index("--epochs") + 1
    return [*args[:i], str(n), *args[i + 1 :]]


def test_version_and_info() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"hardymer {__version__}"
    r = runner.invoke(app, ["info", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["environment"]["hardymer"] == __version__ and info["devices"][0]["device"] == "cpu"


def test_help_has_no_literal_markup() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "``" not in r.output


def test_train_preset_seeds_spelling_history_and_refusal(tmp_path) -> None:
    out = tmp_path / "r"
    args = [
        "train",
        *TINY,
        "--epochs",
        "2",
        "--method",
        "hardymer-no-dh",
        "--seeds",
        "0,1",
        "--conditions",
        "atv",
        "--out",
        str(out),
        "--set",
        f"cache_dir={tmp_path / 'cache'}",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    for s in (0, 1):
        run = out / "atv" / f"seed{s}"
        m = json.loads((run / "metrics.json").read_text())
        assert m["method"] == "hardymer" and (run / "history.csv").is_file()
        opts = yaml.safe_load((run / "config.yaml").read_text())["method"]["options"]
        preset = resolve_method("hardymer-no-dh")[1]
        assert preset and all(opts[k] == v for k, v in preset.items())
    r = runner.invoke(app, _epochs(args, 3))  # --epochs 3: another config
    assert r.exit_code != 0
    assert "train.epochs: 2 -> 3" in r.output and "--overwrite" in r.output
    r = runner.invoke(app, [*_epochs(args, 3), "--overwrite"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "atv" / "seed0" / "metrics.json").read_text())
    assert (
        m["stage1_epochs"] + m["stage2_epochs"] <= 3
        and len(json.loads((out / "atv" / "seed0" / "history.json").read_text())) == 3
    )


def test_bench_singular_spellings_and_refusal(tmp_path) -> None:
    out = tmp_path / "b"
    args = [
        "bench",
        "--data-opt",
        "size=tiny",
        "--epochs",
        "2",
        "--methods",
        "zero-fill",
        "--condition",
        "atv",
        "--seed",
        "0",
        "--out",
        str(out),
        "--set",
        f"cache_dir={tmp_path / 'cache'}",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (out / "zero-fill" / "atv" / "fold0" / "seed0" / "history.csv").is_file()
    r = runner.invoke(app, args)  # same config: skipped, fine
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, _epochs(args, 3))
    assert r.exit_code != 0 and "train.epochs: 2 -> 3" in r.output


def _commands() -> list[tuple[list[str], object]]:
    """Every command of the app, as (path, click command)."""
    from typer.main import get_command

    out = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out.append((path, cmd))

    walk(get_command(app), [])
    return out


def test_every_command_is_listed() -> None:
    names = {" ".join(p) for p, _ in _commands()}
    assert {"train", "evaluate", "bench", "tune", "predict", "data info", "cache clean"} <= names


def test_one_vocabulary_across_train_bench_and_tune() -> None:
    cmds = {" ".join(p): c for p, c in _commands()}
    for name in ("train", "bench", "tune"):
        spellings = {o for p in cmds[name].params for o in p.opts}
        for pair in (("--seed", "--seeds"), ("--condition", "--conditions"), ("--method", "--methods")):
            assert set(pair) <= spellings, (name, pair)
    bench = {o for p in cmds["bench"].params for o in p.opts}
    train = {o for p in cmds["train"].params for o in p.opts}
    assert {"--method-opt", "--batch-size", "--lr", "--device", "--epochs", "--select-on", "--set"} <= bench & train


def test_every_command_takes_verbose_and_documents_every_option() -> None:
    import re

    for path, cmd in _commands():
        opts = {o for p in cmd.params for o in p.opts}
        assert {"-v", "--verbose"} <= opts, path
        assert all(getattr(p, "help", None) for p in cmd.params), (path, [p.name for p in cmd.params if not p.help])
        r = runner.invoke(app, [*path, "-v", "--help"])
        assert r.exit_code == 0, (path, r.output)
        assert not re.search(r"<(bool|str|int|float|list\[[a-z]+\])>", r.output), (path, r.output)
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "<bool>" not in r.output


def test_verbose_after_evaluate_and_predict(tmp_path) -> None:
    missing = str(tmp_path / "nope.pt")
    for args in (["evaluate", "--checkpoint", missing], ["predict", "--checkpoint", missing, "--input", missing]):
        r = runner.invoke(app, [*args, "-v"])
        assert r.exit_code == 2 and "Traceback" in r.stderr and "nope.pt: " in r.stderr, r.output
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "Traceback" not in r.stderr
