"""Download the public files of a dataset from pinned commits, verified by sha256.

``fetch_dataset("mosi-poria", dest)`` fetches the original release of Poria et al. (ACL 2017,
bc-LSTM): the ``bc-LSTM/data`` folder of GitHub ``declare-lab/multimodal-deep-learning`` (MIT)
plus the continuous CMU-MOSI labels ``CMUMOSI_features_raw_2way.pkl`` of GitHub
``zeroQiaoba/GCNet``. Every file is pinned to a commit and a sha256 digest, so what lands in
``dest`` is byte for byte what the experiments of this project were run on.

URL scheme: each file is fetched from ``<base>/<owner>/<repo>/<commit>/<path>``. The default
base is ``https://raw.githubusercontent.com``; ``base_url`` replaces it, e.g. with a local
mirror for tests or offline machines: a ``file://`` URL or a plain directory path holding
``<owner>/<repo>/<commit>/<path>``. Only :mod:`urllib` is used.

Each file is written to a temporary file next to its target, checked, then moved into place
with :func:`os.replace` (atomic): a failed or mismatching download leaves nothing behind and
raises :class:`~hardymer.errors.DataError` naming the file and the expected/actual digests.
Files already present with the right digest are skipped (no network access at all when
everything is there).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hardymer.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
_CHUNK = 1 << 16
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RemoteFile:
    """One pinned file: ``<base>/<owner>/<repo>/<commit>/<path>`` -> ``<dest>/<target>``."""

    owner: str
    repo: str
    commit: str
    path: str
    target: str
    sha256: str
    size: int

    def url(self, base_url: str | None = None) -> str:
        return f"{_normalise_base(base_url)}/{self.owner}/{self.repo}/{self.commit}/{self.path}"


# declare-lab/multimodal-deep-learning @ 111b401d (full hash, as recorded by other users of this release)
_MDL = ("declare-lab", "multimodal-deep-learning", "111b401d867c14a1dcd930fd2b2ab58a5eca3f70")
# zeroQiaoba/GCNet @ 8cce4a0c: only the short hash is known; GitHub resolves abbreviated commits,
# and the sha256 below pins the content regardless.
_GCNET = ("zeroQiaoba", "GCNet", "8cce4a0c")


def _mdl(path: str, target: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(*_MDL, path=path, target=target, sha256=sha256, size=size)


#: dataset name -> the files it needs (digests of the original public files)
SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "mosi-poria": (
        _mdl("LICENSE", "LICENSE", "7a4348bcc838ef3811ad96475d975869ba6104bfec46572b371fa34482defdb5", 1107),
        _mdl(
            "bc-LSTM/data/transcripts.csv",
            "transcripts.csv",
            "e7689e6d70720addd2a6b316419d245a68839c32b014ff426c406063ee777466",
            201361,
        ),
        _mdl(
            "bc-LSTM/data/text_train.csv",
            "text_train.csv",
            "73770b6302ad0f7a51f4eddcae6788efde4d0b6802e09f78249d5b538d1c1d67",
            1689050,
        ),
        _mdl(
            "bc-LSTM/data/text_test.csv",
            "text_test.csv",
            "f3b735070bf07ceff7a6ef6c8f4c32757e988de484e35bd6d38b2aecef851a59",
            889325,
        ),
        _mdl(
            "bc-LSTM/data/audio/audio_train0.csv",
            "audio/audio_train0.csv",
            "5435398a54664e7b00304587dc59ae84a438852be033c2a2fba779588624a2a1",
            1343911,
        ),
        _mdl(
            "bc-LSTM/data/audio/audio_test0.csv",
            "audio/audio_test0.csv",
            "ddd17eeefd3d951d51d4e2ef8a0d132652d8161e1886f71eb7262b7a14bffff6",
            699228,
        ),
        _mdl(
            "bc-LSTM/data/text/text_train0.csv",
            "text/text_train0.csv",
            "cc327045db6cc361a08b4037b97bb24de4ddb5efb381468c4835cc4a60674668",
            2993906,
        ),
        _mdl(
            "bc-LSTM/data/text/text_test0.csv",
            "text/text_test0.csv",
            "a343e22272919d1384c2075dbcdd5fef5aa9f9366b0552a83f7c3147b64b047a",
            1551145,
        ),
        _mdl(
            "bc-LSTM/data/video/video_train0.csv",
            "video/video_train0.csv",
            "b6efc0413132d627efd06f67f1706830e775e90af9a75696f535c48dbc73f12f",
            1055454,
        ),
        _mdl(
            "bc-LSTM/data/video/video_test0.csv",
            "video/video_test0.csv",
            "cab836253d81100f59d533fa2ff65cd53c486be3ec9fd82203c5e25a7a77265f",
            557378,
        ),
        # the mosi-poria loader looks for the label pickle in its root folder first
        RemoteFile(
            *_GCNET,
            path="dataset/CMUMOSI/CMUMOSI_features_raw_2way.pkl",
            target="CMUMOSI_features_raw_2way.pkl",
            sha256="931ee50f3a77b2eb18786840a880a439f3ae6542bf2dfb5e14ecc9690702af84",
            size=1683235,
        ),
    ),
}


def list_fetchable() -> list[str]:
    """Names accepted by :func:`fetch_dataset`."""
    return sorted(SOURCES)


def _normalise_base(base_url: str | os.PathLike[str] | None) -> str:
    if base_url is None:
        return DEFAULT_BASE_URL
    base = os.fspath(base_url)
    if "://" not in base:  # a plain local directory
        base = Path(base).expanduser().resolve().as_uri()
    return base.rstrip("/")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, target: Path, expected: str, advance: Callable[[int], None]) -> None:
    """Stream ``url`` into a temp file beside ``target``; verify; ``os.replace`` into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:  # noqa: S310 (pinned URLs)
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
                        advance(len(chunk))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise DataError(
                    f"download from {url} failed ({reason}); nothing was written", source=str(target)
                ) from exc
        actual = h.hexdigest()
        if actual != expected:
            raise DataError(
                f"sha256 mismatch for the download from {url}: expected {expected}, got {actual}; nothing was written",
                source=str(target),
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _progress(total: int):  # pragma: no cover - cosmetic
    """A rich progress bar on an interactive stderr, else ``None``."""
    if not sys.stderr.isatty():
        return None
    try:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
    except ImportError:
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    )


def fetch_dataset(name: str, dest: str | os.PathLike[str], base_url: str | None = None) -> Path:
    """Download the public files of dataset ``name`` into ``dest``; return ``dest`` as a ``Path``.

    Args:
        name: a name from :func:`list_fetchable` (``"mosi-poria"``).
        dest: target folder (created). For ``mosi-poria`` it becomes a valid ``root`` for
            ``create_dataset("mosi-poria", root=dest)``, label pickle included.
        base_url: replaces ``https://raw.githubusercontent.com``; files are read from
            ``<base_url>/<owner>/<repo>/<commit>/<path>``. A ``file://`` URL or a plain local
            directory path is accepted (a mirror for offline use and tests).

    Raises:
        ConfigError: unknown ``name``.
        DataError: a download failed or its sha256 differs (naming the file and both digests);
            the target file is then left untouched (absent if it was absent).
    """
    if name not in SOURCES:
        raise ConfigError(f"no download known for dataset {name!r}; fetchable: {', '.join(list_fetchable())}")
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    todo: list[RemoteFile] = []
    for f in SOURCES[name]:
        target = dest / f.target
        if target.is_file():
            actual = sha256_file(target)
            if actual == f.sha256:
                log.info("%s: %s already present (sha256 ok), skipped", name, f.target)
                continue
            log.warning("%s: %s has sha256 %s, expected %s: downloading it again", name, f.target, actual, f.sha256)
        todo.append(f)
    if not todo:
        log.info("%s: all %d files present in %s", name, len(SOURCES[name]), dest)
        return dest
    total = sum(f.size for f in todo)
    log.info("%s: downloading %d files (%.1f MB) into %s", name, len(todo), total / 1e6, dest)
    progress = _progress(total)
    if progress is None:
        for f in todo:
            url = f.url(base_url)
            log.info("fetching %s", url)
            _download(url, dest / f.target, f.sha256, lambda n: None)
    else:  # pragma: no cover - only on a terminal
        with progress:
            task = progress.add_task(name, total=total)
            for f in todo:
                progress.update(task, description=f.target)
                _download(f.url(base_url), dest / f.target, f.sha256, lambda n: progress.advance(task, n))
    log.info("%s: done, %d files verified in %s", name, len(SOURCES[name]), dest)
    return dest


__all__ = ["DEFAULT_BASE_URL", "RemoteFile", "SOURCES", "fetch_dataset", "list_fetchable", "sha256_file"]
