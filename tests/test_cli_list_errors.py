"""``hardymer list`` (overview, sections, --json), one-line parse errors, and faiss's loader lines
hidden at the default verbosity (shown with -v)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardymer.catalog.listing import catalog, dataset_options, method_options
from hardymer.catalog.presets import load_presets
from hardymer.catalog.recipes import list_recipes
from hardymer.catalog.validation import dataset_option_names
from hardymer.cli import app
from hardymer.conditions import CONDITIONS
from hardymer.data import list_datasets
from hardymer.errors import ConfigError
from hardymer.models import list_methods
from hardymer.models.backbone import BackboneConfig

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_catalog_matches_the_registries() -> None:
    cat = catalog()
    assert [m["name"] for m in cat["methods"]] == list_methods()
    assert [d["name"] for d in cat["datasets"]] == list_datasets()
    assert [p["name"] for p in cat["presets"]] == list(load_presets())
    assert [r["name"] for r in cat["recipes"]] == list_recipes()
    assert [c["name"] for c in cat["conditions"]][:7] == list(CONDITIONS)
    assert method_options("backbone") == {f.name: f.default for f in dataclasses.fields(BackboneConfig)}
    hm = next(m for m in cat["methods"] if m["name"] == "hardymer")
    assert "hardymer-no-dh" in hm["presets"] and hm["options"] == method_options("hardymer") and "K" in hm["options"]
    for d in list_datasets():  # the options list is the one the config validation accepts
        opts, open_ended = dataset_options(d)
        valid = dataset_option_names(d)
        assert open_ended == (valid is None)
        if valid is not None:
            assert sorted(opts) == sorted(valid)
    syn, _ = dataset_options("synthetic")
    assert syn["size"] == "small" and syn["strength"] == [0.6, 1.0, 0.45]
    assert catalog("recipes")["recipes"][0]["train"]["optimizer"] == "adam"
    with pytest.raises(ConfigError, match="sections: methods, presets"):
        catalog("nope")


def test_list_cli() -> None:
    r = runner.invoke(app, ["list"])
    assert r.exit_code == 0, r.output
    flat = _flat(r.output)
    for word in ("methods", "presets", "datasets", "conditions", "recipes", "hardymer-no-dh", "release", "mosi-poria"):
        assert word in flat
    r = runner.invoke(app, ["list", "methods"])
    assert r.exit_code == 0 and "decoder_hidden" in r.output and "1024" in r.output
    r = runner.invoke(app, ["list", "datasets"])
    assert r.exit_code == 0 and "n_val_videos" in r.output and "pooling" in r.output
    r = runner.invoke(app, ["list", "presets"])
    assert r.exit_code == 0 and "use_direct=False" in _flat(r.output)
    r = runner.invoke(app, ["list", "recipes"])
    assert r.exit_code == 0 and "teacher_epochs=200" in _flat(r.output)
    r = runner.invoke(app, ["list", "conditions"])
    assert r.exit_code == 0 and "audio, text" in r.output
    r = runner.invoke(app, ["list", "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == json.loads(json.dumps(catalog()))
    r = runner.invoke(app, ["list", "presets", "--json"])
    assert r.exit_code == 0 and list(json.loads(r.output)) == ["presets"]
    r = runner.invoke(app, ["list", "nope"])
    assert r.exit_code == 2 and r.output.startswith("error:") and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "--epochs", "abc"], "error: --epochs: 'abc' is not a valid integer"),
        (["train", "--lr", "fast"], "error: --lr: 'fast' is not a valid number"),
        (["bench", "--workers", "x"], "error: --workers: 'x' is not a valid integer"),
        (["tune", "--method", "zero-fill", "--trials", "1.5"], "error: --trials: '1.5' is not a valid integer"),
        (["train", "--epoch", "3"], "--epoch"),
        (["evaluate"], "'--checkpoint'"),
        (["data", "info"], "'NAME'"),
        (["nope"], "nope"),
    ],
)
def test_parse_errors_are_one_line(args: list[str], needle: str) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error: ") and needle in lines[0] and "╭" not in r.output


def test_parse_error_keeps_the_box_with_verbose_and_help_still_works() -> None:
    r = runner.invoke(app, ["-v", "train", "--epochs", "abc"])
    assert r.exit_code == 2 and "--epochs" in r.output and len(r.output.strip().splitlines()) > 1
    r = runner.invoke(app, ["train", "--help"])
    assert r.exit_code == 0 and "--epochs" in r.output
    r = runner.invoke(app, [])
    assert "Usage" in r.output and "error:" not in r.output


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_faiss_loader_lines_only_with_verbose() -> None:
    """A fresh process each time: faiss logs its loader lines once, on first import."""
    pytest.importorskip("faiss")
    load = "from hardymer.retrieval.index import _faiss; _faiss()"
    quiet = _python(f"from hardymer.cli._common import setup_logging; setup_logging(False); {load}")
    assert quiet.returncode == 0, quiet.stderr
    assert "Loading faiss" not in quiet.stderr + quiet.stdout
    loud = _python(f"from hardymer.cli._common import setup_logging; setup_logging(True); {load}")
    assert loud.returncode == 0, loud.stderr
    assert "Loading faiss" in loud.stderr
    # a bench worker (spawned, the root logger at INFO like a Ray worker's): quiet as well
    worker = _python(f"import logging; logging.basicConfig(level=logging.INFO); {load}")
    assert worker.returncode == 0 and "faiss" not in worker.stderr
