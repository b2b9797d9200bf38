"""Generated GCNet-format datasets: label pickles in the real list layouts plus ``features/<name>/<utt_id>.npy``.

The layouts follow the real pickles (written by Python 2 code, protocol 2):

* IEMOCAP: ``[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, testVid]``, dicts keyed by
  dialogue id (``Ses01F_impro01``) holding per-utterance lists; utterance ids ``<dialogue>_<F|M><nnn>``,
  int labels, speakers ``"M"``/``"F"``; ``trainVid``/``testVid`` are sets (session 5 as test). The 4-way
  set is the 6-way set without ``frustrated`` and with ``excited`` merged into ``happy``.
* CMU-MOSI: ``[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, valVid, testVid]``, keyed by
  video id; utterance ids ``<video>_<clip>`` (clips numbered from 1), ``numpy.float64`` scores in [-3, 3]
  with one decimal (some exactly 0), empty speakers.

Features: audio 1-D ``[dim]``, text ``[frames, dim]`` (averaged by the loader), video ``[dim]`` for MOSI and
one folder per utterance with ``compress_F.npy`` / ``compress_M.npy`` (one face track per speaker) for
IEMOCAP. Everything is a function of the seed.
"""

from __future__ import annotations

import pickle
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FEATURES = {"a": "wav2vec-large-c-UTT", "t": "deberta-large-4-UTT", "v": "manet_UTT"}
PICKLES = {
    "iemocap4": "IEMOCAP_features_raw_4way.pkl",
    "iemocap6": "IEMOCAP_features_raw_6way.pkl",
    "mosi": "CMUMOSI_features_raw_2way.pkl",
}
DIMS = {"a": 6, "t": 8, "v": 5}  # the real ones are 512, 1024, 1024: same code path, smaller files
CLASSES6 = ("happy", "sad", "neutral", "angry", "excited", "frustrated")
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


@dataclass
class FakeGCNet:
    """What :func:`make_gcnet` wrote: the root, the pickle objects and each utterance's expected features."""

    root: Path
    variant: str
    pickle: Path
    obj: list
    expected: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # modality -> utt id -> vector
    extra: dict[str, list] = field(default_factory=dict)  # other pickles written beside (variant -> object)

    @property
    def utts(self) -> list[str]:
        """Utterance ids in the loader's row order (sorted group id, then position in the group)."""
        return [u for g in sorted(self.groups) for u in self.obj[0][g]]

    @property
    def groups(self) -> list[str]:
        """The groups the loader keeps: every dialogue (IEMOCAP) or the listed videos (MOSI)."""
        if self.variant == "mosi":
            return sorted(set().union(*self.obj[4:]))
        return sorted(self.obj[0])


def make_iemocap(
    seed: int = 0, sessions: int = 5, dialogues_per_session: int = 4, utterances: tuple[int, int] = (4, 9)
) -> tuple[list, list]:
    """The ``(4-way, 6-way)`` pickle objects of one generated IEMOCAP corpus."""
    rng = np.random.default_rng(seed)
    six: list = [{}, {}, {}, {}]
    for s in range(1, sessions + 1):
        for k in range(dialogues_per_session):
            kind = "impro" if k % 2 == 0 else "script"
            dlg = f"Ses{s:02d}{'FM'[k % 2]}_{kind}{k // 2 + 1:02d}" + ("" if kind == "impro" else "_1")
            n = int(rng.integers(utterances[0], utterances[1] + 1))
            spk = ["FM"[int(b)] for b in rng.integers(0, 2, size=n)]
            count = {"F": 0, "M": 0}
            ids = []
            for sp in spk:
                ids.append(f"{dlg}_{sp}{count[sp]:03d}")
                count[sp] += 1
            six[0][dlg] = ids
            six[1][dlg] = [int(y) for y in rng.integers(0, len(CLASSES6), size=n)]
            six[2][dlg] = spk
            six[3][dlg] = [f"words {j} of {dlg}" for j in range(n)]
    dialogues = sorted(six[0])
    test = {d for d in dialogues if d[4] == str(sessions)}
    six += [set(dialogues) - test, test]
    four: list = [{}, {}, {}, {}]
    for d in dialogues:
        keep = [j for j, y in enumerate(six[1][d]) if y != 5]  # no frustrated
        four[0][d] = [six[0][d][j] for j in keep]
        four[1][d] = [0 if six[1][d][j] == 4 else six[1][d][j] for j in keep]  # excited -> happy
        four[2][d] = [six[2][d][j] for j in keep]
        four[3][d] = [six[3][d][j] for j in keep]
    four += [set(six[4]), set(six[5])]
    return four, six


def make_mosi(
    seed: int = 0,
    videos: dict[str, list[str]] | None = None,
    n_videos: int = 12,
    clips: tuple[int, int] = (2, 6),
    parts: tuple[int, int, int] | None = None,
) -> list:
    """A CMU-MOSI pickle object. ``videos`` (video id -> utterance ids in clip order) defaults to
    ``n_videos`` generated videos; ``parts`` is the number of train/valid/test videos (default about 6:1:3)."""
    rng = np.random.default_rng(seed)
    if videos is None:
        videos = {}
        while len(videos) < n_videos:  # YouTube-like ids, as in the real pickle ('03bSnISJMiM')
            vid = "".join(rng.choice(list(_ID_CHARS), size=11))
            videos[vid] = [f"{vid}_{c}" for c in range(1, int(rng.integers(clips[0], clips[1] + 1)) + 1)]
    ids = sorted(videos)
    labels = {}
    for v in ids:
        y = np.round(rng.uniform(-3.0, 3.0, size=len(videos[v])), 1)
        y[rng.random(len(y)) < 0.15] = 0.0  # the real labels have exact zeros (positive by y >= 0)
        labels[v] = [np.float64(x) for x in y]
    if parts is None:
        n_val = max(1, len(ids) // 10)
        n_test = max(1, (3 * len(ids)) // 10)
        parts = (len(ids) - n_val - n_test, n_val, n_test)
    order = [ids[i] for i in rng.permutation(len(ids))]
    train, val = set(order[: parts[0]]), set(order[parts[0] : parts[0] + parts[1]])
    test = set(order[parts[0] + parts[1] : parts[0] + parts[1] + parts[2]])
    return [
        {v: list(videos[v]) for v in ids},
        labels,
        {v: [""] * len(videos[v]) for v in ids},
        {v: [f"WORDS OF {u.upper()}" for u in videos[v]] for v in ids},
        train,
        val,
        test,
    ]


def write_pickle(path: Path, obj: list) -> Path:
    """Pickle ``obj`` as the original Python 2 code did (protocol 2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)
    return path


def write_features(
    root: Path,
    obj: list,
    seed: int = 0,
    dims: dict[str, int] | None = None,
    video_folders: bool = False,
    skip: Collection[str] = (),
) -> dict[str, dict[str, np.ndarray]]:
    """``root/features/<name>/<utt_id>.npy`` for every utterance of ``obj`` but ``skip``.

    Returns each utterance's expected feature vector per modality (frames averaged; for IEMOCAP video
    folders the file of the utterance's speaker)."""
    rng = np.random.default_rng(seed + 1000)
    dims = {**DIMS, **(dims or {})}
    folders = {m: root / "features" / name for m, name in FEATURES.items()}
    for p in folders.values():
        p.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict[str, np.ndarray]] = {m: {} for m in FEATURES}
    for g in sorted(obj[0]):
        for u, spk in zip(obj[0][g], obj[2][g]):
            if u in skip:
                continue
            a = rng.normal(size=dims["a"]).astype(np.float32)
            np.save(folders["a"] / f"{u}.npy", a)
            expected["a"][u] = a
            t = rng.normal(size=(int(rng.integers(1, 4)), dims["t"])).astype(np.float32)
            np.save(folders["t"] / f"{u}.npy", t)
            expected["t"][u] = t.astype(np.float64).mean(axis=0).astype(np.float32)
            if video_folders:
                (folders["v"] / u).mkdir()
                faces = {s: rng.normal(size=(int(rng.integers(1, 4)), dims["v"])).astype(np.float32) for s in "FM"}
                for s, x in faces.items():
                    np.save(folders["v"] / u / f"compress_{s}.npy", x)
                expected["v"][u] = faces[spk].astype(np.float64).mean(axis=0).astype(np.float32)
            else:
                v = rng.normal(size=dims["v"]).astype(np.float32)
                np.save(folders["v"] / f"{u}.npy", v)
                expected["v"][u] = v
    return expected


def make_gcnet(
    root: Path,
    variant: str = "iemocap4",
    seed: int = 0,
    dims: dict[str, int] | None = None,
    skip: Collection[str] = (),
    **kw,
) -> FakeGCNet:
    """Write a GCNet-format dataset into ``root`` that ``load_gcnet(root, variant)`` reads unchanged.

    ``variant``: ``iemocap4``, ``iemocap6`` (both IEMOCAP pickles are written; features for the utterances
    of ``variant``) or ``mosi``. ``skip``: utterances left without feature files. Other keywords go to
    :func:`make_iemocap` / :func:`make_mosi`.
    """
    root.mkdir(parents=True, exist_ok=True)
    if variant == "mosi":
        obj = make_mosi(seed, **kw)
        extra: dict[str, list] = {}
    elif variant in ("iemocap4", "iemocap6"):
        four, six = make_iemocap(seed, **kw)
        obj, other = (four, six) if variant == "iemocap4" else (six, four)
        extra = {("iemocap6" if variant == "iemocap4" else "iemocap4"): other}
        write_pickle(root / PICKLES[next(iter(extra))], other)
    else:
        raise ValueError(f"no fake for GCNet variant {variant!r}")
    path = write_pickle(root / PICKLES[variant], obj)
    expected = write_features(root, obj, seed=seed, dims=dims, video_folders=variant != "mosi", skip=skip)
    return FakeGCNet(root=root, variant=variant, pickle=path, obj=obj, expected=expected, extra=extra)
