"""``extract()``: manifest -> features of each modality -> the project's ``npz`` file + a report."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import hardymer.extract.audio  # noqa: F401  (each backend module registers its backends)
import hardymer.extract.hf  # noqa: F401
import hardymer.extract.text  # noqa: F401
import hardymer.extract.video  # noqa: F401
from hardymer._io import atomic_numpy_save, atomic_write_json, atomic_write_text
from hardymer.errors import ConfigError, DataError
from hardymer.extract.base import Backend, InputError, find_backend
from hardymer.extract.cache import FeatureCache, cache_key
from hardymer.extract.manifest import Manifest, read_manifest

log = logging.getLogger("hardymer.extract")

MODALITY_ORDER = ("audio", "text", "video")
DEFAULT_BACKENDS = {"audio": "opensmile", "text": "minilm", "video": "fer"}
BACKEND_CHOICES = {
    "audio": "opensmile | hf:<model folder or name>[?layer=L&pool=mean] | none",
    "text": "minilm | sentence-transformers:<name or folder> | hf:<model folder or name>[?layers=4] | none",
    "video": "fer | none",
}


def make_backend(
    modality: str, spec: str, *, video_fps: float = 2.0, max_frames: int = 64, device: str = "cpu"
) -> Backend | None:
    """A backend from its command-line name (looked up in the registry the backend modules fill,
    :data:`hardymer.extract.base.BACKENDS`); ``None`` for ``none``."""
    if spec.strip().lower() == "none":
        return None
    factory = find_backend(modality, spec)
    if factory is None:
        raise ConfigError(f"unknown {modality} backend {spec!r}; choose {BACKEND_CHOICES[modality]}")
    return factory(spec.strip(), video_fps=video_fps, max_frames=max_frames, device=device)


@dataclass
class ModalityStats:
    backend: str
    dim: int
    available: int = 0
    failed: int = 0
    cached: int = 0
    computed: int = 0
    seconds: float = 0.0


@dataclass
class ExtractResult:
    out: Path
    report: Path
    n: int
    stats: dict[str, ModalityStats] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (id, modality, reason)
    warnings: list[str] = field(default_factory=list)


def _choose(m: Manifest, modality: str, spec: str | None) -> str:
    if spec is None or spec.strip().lower() == "auto":
        return DEFAULT_BACKENDS[modality] if m.has(modality) else "none"
    if spec.strip().lower() != "none" and modality not in m.columns:
        raise ConfigError(f"--{modality}-backend {spec} given but the manifest {m.path} has no {modality!r} column")
    return spec


def _safe(fn: Callable[[], Any]) -> tuple[Any, str | None]:
    """Run ``fn``; an exception becomes a report reason instead of a crash."""
    try:
        return fn(), None
    except InputError as exc:
        return None, str(exc)
    except Exception as exc:  # a backend failing on one odd input must not end the run
        return None, f"{type(exc).__name__}: {exc}"


def _run_modality(
    m: Manifest,
    modality: str,
    backend: Backend,
    cache: FeatureCache,
    workers: int,
    progress: Any,
    stats: ModalityStats,
    problems: dict[int, str],
) -> np.ndarray:
    n = len(m)
    x = np.zeros((n, backend.dim), dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    cells: list[str] = getattr(m, modality)
    values: dict[int, Any] = {}
    for i, c in enumerate(cells):
        if modality == "text":
            if c.strip():
                values[i] = c
            else:
                problems[i] = "empty transcript" if "text" in m.columns else "no text column"
        elif c:
            values[i] = m.resolve(c)
        else:
            problems[i] = f"no {modality} input (empty cell)"
    cfg = backend.config_json()

    def run(pool: ThreadPoolExecutor | None, fn: Callable[[Any], Any], items: list) -> list:
        if pool is None:
            return [fn(it) for it in items]
        return list(pool.map(fn, items))

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"extract-{modality}") if workers > 1 else None
    try:
        # 1. content hashes (missing / unreadable files end here)
        idx = sorted(values)
        fps = run(pool, lambda i: _safe(lambda: backend.fingerprint(values[i])), idx)
        by_key: dict[str, list[int]] = {}
        for i, (fp, reason) in zip(idx, fps):
            if reason is not None:
                problems[i] = reason
            else:
                by_key.setdefault(cache_key(cfg, fp), []).append(i)
        # 2. one computation per distinct content (cache first)
        task = (
            progress.add_task(f"{modality} ({backend.name})", total=sum(len(v) for v in by_key.values()))
            if progress is not None
            else None
        )

        def job(key: str) -> tuple[np.ndarray | None, str | None, bool]:
            hit = cache.get(modality, key, backend.dim)
            if hit is not None:
                return hit, None, True
            vec, reason = _safe(lambda: backend.embed(values[by_key[key][0]]))
            if reason is not None:
                return None, reason, False
            vec = np.asarray(vec, dtype=np.float32).reshape(-1)
            if vec.shape != (backend.dim,):
                return None, f"backend returned shape {vec.shape}, expected ({backend.dim},)", False
            if not np.isfinite(vec).all():
                return None, "features contain NaN/inf", False
            cache.put(modality, key, vec)
            return vec, None, False

        def take(key: str, res: tuple[np.ndarray | None, str | None, bool]) -> None:
            vec, reason, cached = res
            rows = by_key[key]
            if vec is None:
                for i in rows:
                    problems[i] = reason or "failed"
            else:
                x[rows] = vec
                ok[rows] = True
                stats.cached += int(cached)
                stats.computed += int(not cached)
            if task is not None:
                progress.advance(task, len(rows))

        keys = sorted(by_key, key=lambda k: by_key[k][0])
        if pool is None:
            for k in keys:
                take(k, job(k))
        else:
            futures = {pool.submit(job, k): k for k in keys}
            for f in as_completed(futures):
                take(futures[f], f.result())
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    stats.available = int(ok.sum())
    stats.failed = n - stats.available
    assert not x[~ok].any()
    return x


def _report_text(rows: list[tuple[str, str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "modality", "reason"])
    w.writerows(rows)
    return buf.getvalue()


def default_report_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.report.csv")


def extract(
    manifest: str | Path,
    out: str | Path,
    *,
    audio_backend: str | None = None,
    text_backend: str | None = None,
    video_backend: str | None = None,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    report: str | Path | None = None,
    video_fps: float = 2.0,
    max_frames: int = 64,
    device: str = "cpu",
    progress: bool = True,
) -> ExtractResult:
    """Extract features for every utterance of ``manifest`` and write them to ``out`` (``npz`` format).

    Backends: ``None``/``"auto"`` picks the default one (opensmile, minilm, fer) when the manifest has
    inputs for that modality, else none. A missing or unusable input gives mask 0 and a report row
    (``id, modality, reason``), written to ``report`` (default ``<out stem>.report.csv``). Also writes
    ``<out stem>.extract.json`` (backends, versions, counts). Output files are written atomically.
    """
    t0 = time.perf_counter()
    out = Path(out)
    report_path = Path(report) if report is not None else default_report_path(out)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    m = read_manifest(manifest)
    specs = {"audio": audio_backend, "text": text_backend, "video": video_backend}
    backends: dict[str, Backend] = {}
    for mod in MODALITY_ORDER:
        b = make_backend(mod, _choose(m, mod, specs[mod]), video_fps=video_fps, max_frames=max_frames, device=device)
        if b is not None:
            b.load()  # fails here, before any work, when an extra is missing
            backends[mod] = b
    if not backends:
        raise ConfigError(
            f"nothing to extract: the manifest {m.path} has no audio/text/video inputs or every backend is 'none'"
        )
    cache = FeatureCache(cache_dir)
    res = ExtractResult(out=out, report=report_path, n=len(m))
    arrays: dict[str, np.ndarray] = {}
    prog = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        prog = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        prog.start()
    problems_by_mod: dict[str, dict[int, str]] = {}
    try:
        for mod, b in backends.items():
            t = time.perf_counter()
            st = ModalityStats(backend=b.name, dim=b.dim)
            problems: dict[int, str] = {}
            x = _run_modality(m, mod, b, cache, workers, prog, st, problems)
            st.seconds = round(time.perf_counter() - t, 3)
            mask = np.zeros(len(m), dtype=np.uint8)
            mask[[i for i in range(len(m)) if i not in problems]] = 1
            assert int(mask.sum()) == st.available
            arrays[mod] = x
            arrays[f"mask_{mod}"] = mask
            res.stats[mod] = st
            problems_by_mod[mod] = problems
    finally:
        if prog is not None:
            prog.stop()
    for i, u in enumerate(m.ids):
        for mod in backends:
            if i in problems_by_mod[mod]:
                res.problems.append((u, mod, problems_by_mod[mod][i]))

    arrays["utt_ids"] = np.array(m.ids, dtype=str)
    arrays["groups"] = np.array(m.groups, dtype=str)
    arrays["order"] = np.asarray(m.order, dtype=np.int64)
    if m.labels is not None:
        arrays["labels"] = m.labels
        if m.class_names is not None:
            arrays["class_names"] = np.array(m.class_names, dtype=str)
    if m.split is not None:
        arrays["split"] = np.array(m.split, dtype=str)
    if m.speakers is not None:
        arrays["speakers"] = np.array(m.speakers, dtype=str)
    if m.labels is None:
        res.warnings.append("no labels in the manifest: the file serves `hardymer predict`, not `train`")
    elif m.split is None:
        res.warnings.append("labels but no split column: add split (train/val/test) before `hardymer train`")
    atomic_numpy_save(out, **arrays)
    atomic_write_text(report_path, _report_text(res.problems))
    if m.labels is not None and m.split is not None:
        from hardymer.data.loaders.npz import load_npz

        try:
            load_npz(out)
        except DataError as exc:
            res.warnings.append(f"the file is written but `train` will refuse it: {exc}")
    atomic_write_json(
        out.with_name(f"{out.stem}.extract.json"),
        {
            "manifest": str(m.path),
            "out": str(out),
            "report": str(report_path),
            "utterances": len(m),
            "backends": {mod: {"name": b.name, "dim": b.dim, "config": b.config()} for mod, b in backends.items()},
            "stats": {mod: vars(s) for mod, s in res.stats.items()},
            "problems": len(res.problems),
            "seconds": round(time.perf_counter() - t0, 3),
        },
    )
    for w in res.warnings:
        log.warning("%s", w)
    return res
