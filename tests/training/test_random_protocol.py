"""The random missing-rate protocol end to end: every method trains under it, the stored validation
and test masks are the same for every method and seed (and what ``evaluate`` rebuilds), and
``train`` / ``bench`` / ``evaluate`` take it from the command line with one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hardymer.cli import app
from hardymer.config import config_hash
from hardymer.data.masks import eval_mask, mask_digest
from hardymer.errors import ConfigError
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import list_methods
from hardymer.training.run import run_experiment

runner = CliRunner()


def _cfg(tiny_config, out, method="zero-fill", seed=0, rate=0.5, mask="independent", **kw):
    return tiny_config(
        out,
        epochs=3,
        method=method,
        protocol="random",
        missing={"rate": rate, "mask": mask},
        seed=seed,
        cache_dir=None,
        **kw,
    )


@pytest.mark.parametrize("method", list_methods())
def test_every_method_trains_under_the_random_protocol(tiny_config, tmp_path, method):
    m = run_experiment(_cfg(tiny_config, tmp_path / method, method=method, rate=0.4))
    assert m["protocol"] == "random" and m["condition"] == "r0.40"
    assert set(m["test"]) >= {"wa", "ua"} and all(np.isfinite(v) for v in m["test"].values())
    assert m["missing"]["rate"] == 0.4 and 0.0 < m["missing"]["test_missing_rate"] < 2 / 3


def test_two_methods_and_seeds_see_identical_test_masks(tiny_config, tmp_path):
    runs = {
        (meth, seed): run_experiment(_cfg(tiny_config, tmp_path / f"{meth}{seed}", method=meth, seed=seed))
        for meth in ("zero-fill", "backbone")
        for seed in (0, 1)
    }
    digests = {(k, runs[k]["missing"]["test_digest"], runs[k]["missing"]["val_digest"]) for k in runs}
    assert len({d[1:] for d in digests}) == 1
    stored = [np.load(tmp_path / f"{m}{s}" / "eval_masks.npz") for m, s in runs]
    for z in stored[1:]:
        for key in ("val_idx", "val_mask", "test_idx", "test_mask"):
            assert np.array_equal(z[key], stored[0][key]), key
    z = stored[0]
    assert z["test_mask"].shape == (len(z["test_idx"]), 3)
    assert bool(z["test_mask"].any(1).all())
    # the stored mask is the documented function of dataset, fold, part, rate, generator and mask seed
    fold = runs[("zero-fill", 0)]["fold"]
    ref = eval_mask("synthetic", fold, "test", len(z["test_idx"]), 0.5, "independent", 0)
    assert np.array_equal(z["test_mask"], ref)
    assert runs[("zero-fill", 0)]["missing"]["test_digest"] == mask_digest(ref)


def test_mask_seed_and_generator_change_the_stored_masks(tiny_config, tmp_path):
    a = run_experiment(_cfg(tiny_config, tmp_path / "a", rate=0.7))
    b = run_experiment(_cfg(tiny_config, tmp_path / "b", rate=0.7, mask="cpm"))
    assert a["missing"]["test_digest"] != b["missing"]["test_digest"]
    # cpm at r = 0.7 keeps exactly one modality per utterance (GCNet's behaviour): 2/3 missing
    assert b["missing"]["test_missing_rate"] == pytest.approx(2 / 3)
    cfg = _cfg(tiny_config, tmp_path / "c", rate=0.7)
    cfg.missing.mask_seed = 1
    c = run_experiment(cfg)
    assert c["missing"]["test_digest"] != a["missing"]["test_digest"]


def test_evaluate_rebuilds_the_stored_mask(tiny_config, tmp_path):
    m = run_experiment(_cfg(tiny_config, tmp_path / "run", method="backbone", rate=0.3))
    res = evaluate_checkpoint(tmp_path / "run", [], split="test", rates=[0.3])
    assert res["r0.30"] == pytest.approx(m["test"])
    r = runner.invoke(app, ["evaluate", "--checkpoint", str(tmp_path / "run"), "--protocol", "random", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["r0.30"] == pytest.approx(m["test"])
    r = runner.invoke(
        app,
        [
            "evaluate",
            "--checkpoint",
            str(tmp_path / "run"),
            "--protocol",
            "random",
            "--missing-rate",
            "0,0.7",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)) == {"r0.00", "r0.70", "mean"}  # mean: over the rates evaluated


def test_missing_settings_do_not_change_other_protocols_hash(tiny_config, tmp_path):
    a = tiny_config(tmp_path / "a")
    b = tiny_config(tmp_path / "a", missing={"rate": 0.3})
    assert config_hash(a) == config_hash(b)
    c = tiny_config(tmp_path / "a", protocol="random", missing={"rate": 0.3})
    d = tiny_config(tmp_path / "a", protocol="random", missing={"rate": 0.4})
    assert config_hash(c) != config_hash(d)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ({"rate": 0.8}, "--missing-rate 0.8: must be in"),
        ({"rate": -0.1}, "must be in"),
        ({"mask": "gcnet"}, "unknown mask generator"),
        ({"mask_seed": -1}, "must be an integer >= 0"),
    ],
)
def test_bad_missing_settings_refused(tiny_config, tmp_path, missing, message):
    with pytest.raises(ConfigError, match=message):
        run_experiment(tiny_config(tmp_path / "x", protocol="random", missing=missing))


def test_train_cli_one_model_per_rate(tmp_path):
    out = tmp_path / "train"
    args = ["train", "--dataset", "synthetic", "--data-opt", "size=tiny", "--method", "zero-fill", "--epochs", "2"]
    r = runner.invoke(
        app, [*args, "--protocol", "random", "--missing-rate", "0,0.5", "--mask", "cpm", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    for label in ("r0.00", "r0.50"):
        m = json.loads((out / label / "seed0" / "metrics.json").read_text())
        assert m["condition"] == label and m["missing"]["mask"] == "cpm"
    assert "auc" in (out / "results.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--protocol", "random", "--missing-rate", "0.9"], "--missing-rate 0.9: missing rate 0.9 is outside"),
        (["--protocol", "random", "--missing-rate", "0.3", "--mask", "gcnet"], "--mask gcnet: unknown mask generator"),
        (["--missing-rate", "0.3"], "--missing-rate: only with --protocol random"),
        (["--protocol", "sometimes"], "--protocol sometimes: must be one of fixed, unified, random"),
    ],
)
def test_train_cli_errors_are_one_line(tmp_path, extra, message):
    args = ["train", "--dataset", "synthetic", "--data-opt", "size=tiny", "--epochs", "1", "--out", str(tmp_path / "o")]
    r = runner.invoke(app, [*args, *extra])
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_bench_cli_random_grid_report(tmp_path):
    out = tmp_path / "bench"
    r = runner.invoke(
        app,
        [
            "bench",
            "--dataset",
            "synthetic",
            "--data-opt",
            "size=tiny",
            "--methods",
            "zero-fill,backbone",
            "--protocol",
            "random",
            "--missing-rates",
            "0,0.3,0.6",
            "--seeds",
            "0-2",
            "--epochs",
            "2",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    md = (out / "results.md").read_text()
    assert "| method | r0.00 | r0.30 | r0.60 | auc |" in md
    assert "paired difference vs backbone" in md and "realised missing rate of the stored test masks" in md
    assert (out / "curve_wa.png").is_file() and (out / "curve_ua.png").is_file()
    res = json.loads((out / "results.json").read_text())
    assert res["protocol"] == "random"
    digests = {(run["condition"], run["missing"]["test_digest"]) for run in res["runs"]}
    assert len(digests) == 3  # one stored test mask per rate, shared by both methods and all seeds
    bad = runner.invoke(app, ["bench", "--protocol", "random", "--out", str(tmp_path / "b2")])
    assert bad.exit_code == 2 and "needs --missing-rates" in bad.output
    bad = runner.invoke(app, ["bench", "--missing-rates", "0.3", "--out", str(tmp_path / "b3")])
    assert bad.exit_code == 2 and "only with --protocol random" in bad.output


def test_evaluate_random_masks_on_a_fixed_model_warns(tiny_config, tmp_path, caplog):
    run_experiment(tiny_config(tmp_path / "fixed", epochs=2, method="zero-fill", condition="at", cache_dir=None))
    with caplog.at_level("WARNING"):
        res = evaluate_checkpoint(tmp_path / "fixed", [], split="test", rates=[0.5])
    assert "r0.50" in res and "trained under the fixed protocol" in caplog.text
    with pytest.raises(ConfigError, match="--strict"):
        evaluate_checkpoint(tmp_path / "fixed", [], split="test", rates=[0.5], strict=True)
