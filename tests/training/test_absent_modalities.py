"""Datasets that lack a modality entirely: every method trains on the conditions it has; the
others are refused; ``data info`` names the absent modalities."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hardymer.cli import app
from hardymer.data import create_dataset
from hardymer.errors import ConfigError
from hardymer.training.run import run_experiment

SMALL = {
    "zero-fill": {},
    "backbone": {"hidden": 16, "depth": 1},
    "momke": {"hidden": 16, "depth": 1},
    "hardymer": {"hidden": 16, "depth": 1, "decoder_hidden": 32, "critic_epochs": 2, "teacher_epochs": 2},
}


@pytest.fixture(scope="module")
def gcnet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GCNet-format MOSI dataset with text and audio features only (no video folder)."""
    root = tmp_path_factory.mktemp("gcnet_partial")
    rng = np.random.default_rng(0)
    vids = {f"vid{k:02d}": [f"vid{k:02d}_{j}" for j in range(5)] for k in range(12)}
    labels = {v: np.round(rng.uniform(-3, 3, size=5), 1).tolist() for v in vids}
    obj = [
        vids,
        labels,
        {v: [""] * 5 for v in vids},
        {v: ["s"] * 5 for v in vids},
        {f"vid{k:02d}" for k in range(8)},
        {"vid08", "vid09"},
        {"vid10", "vid11"},
    ]
    (root / "CMUMOSI_features_raw_2way.pkl").write_bytes(pickle.dumps(obj, protocol=2))
    for sub, _dim in (("deberta-large-4-UTT", 8), ("wav2vec-large-c-UTT", 4)):
        (root / "features" / sub).mkdir(parents=True)
    for v, us in vids.items():
        for u, y in zip(us, labels[v]):
            np.save(root / "features" / "deberta-large-4-UTT" / f"{u}.npy", (y + rng.normal(size=8)).astype(np.float32))
            np.save(
                root / "features" / "wav2vec-large-c-UTT" / f"{u}.npy",
                (0.3 * y + rng.normal(size=(3, 4))).astype(np.float32),
            )
    return root


def _opts(text_only: bool) -> dict:
    return {"video_feature": "none", **({"audio_feature": "none"} if text_only else {})}


@pytest.fixture(scope="module")
def cfg(tiny_config):
    """``cfg(root, out, method, condition, text_only, protocol="fixed", **method_options)``: the tiny run
    config on the GCNet-format data in ``root``."""

    def make(root: Path, out: Path, method: str, condition: str, text_only: bool, protocol: str = "fixed", **extra):
        return tiny_config(
            out,
            epochs=2,
            method=method,
            method_options={**SMALL[method], **extra},
            data={"name": "gcnet-mosi", "root": str(root), "options": _opts(text_only)},
            condition=condition,
            protocol=protocol,
            cache_dir=None,
            train={"batch_size": 4},
        )

    return make


def test_absent_modalities_loaded(gcnet_root: Path) -> None:
    ds = create_dataset("gcnet-mosi", root=gcnet_root, **_opts(text_only=True))
    assert ds.absent_modalities == ["a", "v"]
    assert ds.dims == {"a": 1, "t": 8, "v": 1}
    assert ds.available[:, 1].all() and not ds.available[:, [0, 2]].any()
    assert (ds.features["a"] == 0).all() and (ds.features["v"] == 0).all()
    ds2 = create_dataset("gcnet-mosi", root=gcnet_root, **_opts(text_only=False))
    assert ds2.absent_modalities == ["v"] and ds2.dims["a"] == 4


@pytest.mark.parametrize("method", ["zero-fill", "backbone", "momke", "hardymer"])
@pytest.mark.parametrize("condition,text_only", [("t", True), ("at", False)])
def test_every_method_trains_without_the_absent_modality(
    gcnet_root: Path, tmp_path: Path, cfg, method: str, condition: str, text_only: bool
) -> None:
    m = run_experiment(cfg(gcnet_root, tmp_path, method, condition, text_only))
    assert m["condition"] == condition
    for part in ("val", "test"):
        assert np.isfinite(m[part]["mae"]), m[part]
    if method == "hardymer":  # every missing modality is absent: nothing to reconstruct, no MI pair
        rows = json.loads((tmp_path / "hardness.json").read_text())
        assert rows and all(r["dh"] == 0.0 and r["ih"] == 0.0 for r in rows)


@pytest.mark.parametrize("estimator", ["critic", "entropy"])
def test_hardymer_hardness_uses_the_present_modalities(gcnet_root: Path, tmp_path: Path, cfg, estimator: str) -> None:
    """Video absent, audio present: condition t has a DH term (audio reconstruction) and an IH
    term (the text-audio pair), none for video."""
    m = run_experiment(cfg(gcnet_root, tmp_path, "hardymer", "t", False, mi_estimator=estimator))
    assert np.isfinite(m["test"]["mae"])
    rows = json.loads((tmp_path / "hardness.json").read_text())
    dh = np.array([r["dh"] for r in rows])
    ih = np.array([r["ih"] for r in rows])
    assert np.isfinite(dh).all() and np.isfinite(ih).all()
    assert dh.std() > 0 and ih.std() > 0


def test_hardymer_entropy_estimator_text_only(gcnet_root: Path, tmp_path: Path, cfg) -> None:
    m = run_experiment(cfg(gcnet_root, tmp_path, "hardymer", "t", True, mi_estimator="entropy"))
    assert np.isfinite(m["test"]["mae"])
    rows = json.loads((tmp_path / "hardness.json").read_text())
    assert all(r["ih"] == 0.0 for r in rows)


@pytest.mark.parametrize(
    "condition,protocol,needle",
    [
        ("a", "fixed", "needs audio"),
        ("tv", "fixed", "needs video"),
        ("atv", "fixed", "needs audio, video"),
        ("atv", "unified", "has no a, v features"),
    ],
)
def test_conditions_needing_an_absent_modality_refused(
    gcnet_root: Path, tmp_path: Path, cfg, condition: str, protocol: str, needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        run_experiment(cfg(gcnet_root, tmp_path, "zero-fill", condition, True, protocol=protocol))


def test_data_info_names_absent_modalities(gcnet_root: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "data",
            "info",
            "gcnet-mosi",
            "--root",
            str(gcnet_root),
            "--data-opt",
            "video_feature=none",
            "--data-opt",
            "audio_feature=none",
        ],
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "absent (no features for any utterance" in text and "audio, video" in text


def test_missing_folder_error_suggests_none(gcnet_root: Path) -> None:
    with pytest.raises(Exception, match="video_feature=none"):
        create_dataset("gcnet-mosi", root=gcnet_root)
