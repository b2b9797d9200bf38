"""fetch_dataset: pinned, sha256-verified, atomic downloads (served from a local mirror: no network).

The mirror holds either a generated mosi-poria folder (tests/data/fakes/mosi_poria.py, its digests pinned
in place of the real ones) or, when ../shared has them, the original files (marked ``shared``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path

import pytest
from fakes.mosi_poria import make_mosi_poria

from hardymer.data import create_dataset
from hardymer.data.fetch import SOURCES, RemoteFile, fetch_dataset, sha256_file
from hardymer.errors import ConfigError, DataError

FILES = SOURCES["mosi-poria"]


@dataclasses.dataclass(frozen=True)
class Originals:
    kind: str  # "fake" or "real"
    paths: dict[str, Path]  # target -> file


def _original(shared_dir: Path, target: str) -> Path:
    for folder in ("mosi-poria", "gcnet-labels"):
        p = shared_dir / "data" / folder / target
        if p.is_file():
            return p
    pytest.skip(f"{target} not found under {shared_dir / 'data'} (needed to build the local mirror)")


@pytest.fixture(scope="module", params=["fake", pytest.param("real", marks=pytest.mark.shared)])
def originals(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Originals:
    if request.param == "fake":
        root = make_mosi_poria(tmp_path_factory.mktemp("originals") / "mosi-poria", labels="root").root
        return Originals("fake", {f.target: root / f.target for f in FILES})
    shared_dir = request.getfixturevalue("shared_dir")
    return Originals("real", {f.target: _original(shared_dir, f.target) for f in FILES})


@pytest.fixture
def files(originals: Originals, monkeypatch: pytest.MonkeyPatch) -> tuple[RemoteFile, ...]:
    """The pinned files of mosi-poria; generated originals are pinned to their own digests."""
    if originals.kind == "real":
        return FILES
    pinned = tuple(
        dataclasses.replace(
            f, sha256=sha256_file(originals.paths[f.target]), size=originals.paths[f.target].stat().st_size
        )
        for f in FILES
    )
    monkeypatch.setitem(SOURCES, "mosi-poria", pinned)
    return pinned


def _mirror(originals: Originals, base: Path, corrupt: str | None = None) -> Path:
    """``<base>/<owner>/<repo>/<commit>/<path>`` for every file; ``corrupt`` gets one byte changed."""
    for f in FILES:
        src = originals.paths[f.target]
        dst = base / f.owner / f.repo / f.commit / f.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if f.target == corrupt:
            data = bytearray(src.read_bytes())
            data[len(data) // 2] ^= 0x01
            dst.write_bytes(bytes(data))
        else:
            try:
                os.symlink(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
    return base


@pytest.fixture(scope="module")
def mirror(originals: Originals, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _mirror(originals, tmp_path_factory.mktemp("mirror"))


def test_pinned_digests_match_shared_originals(shared_dir: Path) -> None:
    for f in FILES:
        src = _original(shared_dir, f.target)
        assert sha256_file(src) == f.sha256, f.target
        assert src.stat().st_size == f.size, f.target


def test_url_scheme() -> None:
    f = FILES[1]
    assert (
        f.url()
        == f"https://raw.githubusercontent.com/declare-lab/multimodal-deep-learning/{f.commit}/bc-LSTM/data/transcripts.csv"
    )
    assert f.url("https://example.org/m/").startswith("https://example.org/m/declare-lab/")
    assert f.url("/srv/mirror").startswith("file:///")


def test_fetch_then_load(
    mirror: Path, files: tuple[RemoteFile, ...], originals: Originals, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "mosi"
    out = fetch_dataset("mosi-poria", dest, base_url=mirror.as_uri())  # file:// URL
    assert out == dest
    for f in files:
        assert sha256_file(dest / f.target) == f.sha256
        assert (dest / f.target).read_bytes() == originals.paths[f.target].read_bytes()
    assert not list(dest.rglob("*.part")), "temporary files left behind"
    ds = create_dataset("mosi-poria", root=dest)
    assert len(ds) == len((dest / "transcripts.csv").read_text(encoding="utf-8").strip().splitlines())
    assert ds.meta["labels"] == str(dest / "CMUMOSI_features_raw_2way.pkl")

    # second fetch: everything present and verified -> no download at all (the base has nothing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with caplog.at_level(logging.INFO, logger="hardymer.data.fetch"):
        fetch_dataset("mosi-poria", dest, base_url=str(empty))
    assert sum("already present" in r.getMessage() for r in caplog.records) == len(files)


def test_plain_path_base_and_bad_existing_file_is_replaced(
    mirror: Path, files: tuple[RemoteFile, ...], tmp_path: Path
) -> None:
    dest = tmp_path / "mosi"
    (dest / "video").mkdir(parents=True)
    stale = dest / "video" / "video_test0.csv"
    stale.write_text("not the original\n")
    fetch_dataset("mosi-poria", dest, base_url=str(mirror))  # plain directory path
    target = next(f for f in files if f.target == "video/video_test0.csv")
    assert sha256_file(stale) == target.sha256


def test_corrupted_download_leaves_nothing(originals: Originals, files: tuple[RemoteFile, ...], tmp_path: Path) -> None:
    bad = "video/video_test0.csv"
    base = _mirror(originals, tmp_path / "mirror", corrupt=bad)
    dest = tmp_path / "mosi"
    with pytest.raises(DataError) as err:
        fetch_dataset("mosi-poria", dest, base_url=str(base))
    msg = str(err.value)
    expected = next(f.sha256 for f in files if f.target == bad)
    assert "sha256" in msg and expected in msg and "video_test0.csv" in msg
    assert not (dest / bad).exists()
    assert not [p for p in (dest / "video").iterdir() if p.name != "video_train0.csv"], "partial file left behind"


def test_missing_remote_file_is_a_data_error(tmp_path: Path) -> None:
    dest = tmp_path / "mosi"
    with pytest.raises(DataError, match="LICENSE"):
        fetch_dataset("mosi-poria", dest, base_url=str(tmp_path / "nowhere"))
    assert not [p for p in dest.rglob("*") if p.is_file()]


def test_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mosi-poria"):
        fetch_dataset("no-such-data", tmp_path)
