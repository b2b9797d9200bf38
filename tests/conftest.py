"""Shared fixtures: the real data in ``<repo>/../shared`` (skipped cleanly when absent) and the tiny run
config of the fast tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from hardymer.config import load_config

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (the real data lives in ../shared, absent on a fresh checkout)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``<repo>/../shared``; skips the test with a clear reason when it is absent."""
    return _require(SHARED_DIR, "shared data folder")


@pytest.fixture(scope="session")
def mosi_poria_root(shared_dir: Path) -> Path:
    """``../shared/data/mosi-poria`` (Poria's original CSV files)."""
    root = shared_dir / "data" / "mosi-poria"
    _require(root / "transcripts.csv", "CMU-MOSI (Poria CSV layout)")
    return root


@pytest.fixture(scope="session")
def gcnet_labels_dir(shared_dir: Path) -> Path:
    """``../shared/data/gcnet-labels`` (GCNet label pickles)."""
    root = shared_dir / "data" / "gcnet-labels"
    _require(root / "CMUMOSI_features_raw_2way.pkl", "GCNet label pickles")
    return root


def make_tiny_config(
    out: str | Path | None = None,
    *,
    epochs: int = 4,
    data_seed: int = 3,
    method: str | None = None,
    method_options: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    **top: Any,
) -> Any:
    """The run config of the fast tests: synthetic ``size=tiny`` data (seed ``data_seed``), ``epochs`` epochs
    with no early stopping, results in ``out``.

    ``method`` / ``method_options`` set the method (default: the config's), ``train`` adds train keys
    (``{"select_on": "test"}``), other keywords set top-level keys (``condition``, ``cache_dir``,
    ``protocol``, ``data``, ...). Keys not given keep the defaults of ``hardymer.config``.
    """
    cfg: dict[str, Any] = {
        "data": {"name": "synthetic", "options": {"size": "tiny", "seed": data_seed}},
        "train": {"epochs": epochs, "patience": 0, **(train or {})},
    }
    if out is not None:
        cfg["out"] = str(out)
    if method is not None:
        cfg["method"] = {"name": method, "options": dict(method_options or {})}
    cfg.update(top)
    return load_config(cfg)


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., Any]:
    """:func:`make_tiny_config`, e.g. ``tiny_config(tmp_path / "run", epochs=2, train={"select_on": "test"})``."""
    return make_tiny_config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need ../shared get the ``shared`` marker (``-m 'not shared'`` deselects them)."""
    for item in items:
        if "shared_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread per test module: the test models are tiny and extra threads only contend
    on a shared CPU (module scope, so module-scoped fixtures that train get it too)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
