"""A generated CMU-MOSI in Poria et al.'s CSV layout (bc-LSTM release) plus its GCNet label pickle.

Layout (no headers, every value quoted, ``\\r\\n`` line ends, as in the original files)::

    root/
      transcripts.csv                 utt_id, TRANSCRIPT, video_index (1..V), binary_label; sorted by utt_id
      text_train.csv, text_test.csv   row index into transcripts.csv, then 100 text features
      audio/audio_{train,test}0.csv   73 features, then the binary label (rows as text_<part>.csv)
      text/text_{train,test}0.csv     100 features, then the binary label
      video/video_{train,test}0.csv   100 features, then the binary label
      CMUMOSI_features_raw_2way.pkl   continuous scores in [-3, 3] (see fakes/gcnet.py), binary = score >= 0

utt_id is ``<video_id>_<clip>``; some videos have 10 or more clips, so the string order of
``transcripts.csv`` differs from the clip order of the pickle, as in the real files. Poria's split is by
video: ``train_videos`` videos in the train files, ``test_videos`` in the test files (the loader takes 10
of the latter for validation by default).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .gcnet import PICKLES, make_mosi, write_pickle

DIMS = {"a": 73, "t": 100, "v": 100}
FOLDERS = {"a": "audio", "t": "text", "v": "video"}
LABEL_PICKLE = PICKLES["mosi"]


@dataclass
class FakeMosiPoria:
    """What :func:`make_mosi_poria` wrote."""

    root: Path
    label_pickle: Path | None
    utts: dict[str, list[str]]  # part -> utterance ids in the row order of its files
    videos: dict[str, list[str]]  # part -> video ids
    scores: dict[str, float]
    features: dict[str, dict[str, np.ndarray]]  # modality -> utt id -> float32 vector as written
    pickle_obj: list


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)


def make_mosi_poria(
    root: Path,
    seed: int = 0,
    train_videos: int = 5,
    test_videos: int = 13,
    clips: tuple[int, int] = (2, 12),
    labels: str | None = "root",
) -> FakeMosiPoria:
    """Write the dataset into ``root``; ``load_mosi_poria(root)`` reads it unchanged.

    ``labels``: where the label pickle goes: ``"root"`` (beside the CSV files), ``"sibling"``
    (``root/../gcnet-labels/``, the layout of the published folders) or ``None`` (not written).
    """
    rng = np.random.default_rng(seed)
    n = train_videos + test_videos
    obj = make_mosi(seed, n_videos=n, clips=clips, parts=(n - 2 - n // 4, 2, n // 4))  # the CMU lists differ
    vids = sorted(obj[0])
    perm = [vids[i] for i in rng.permutation(n)]
    part_videos = {"train": sorted(perm[:train_videos]), "test": sorted(perm[train_videos:])}
    scores = {u: float(y) for v in vids for u, y in zip(obj[0][v], obj[1][v])}
    video_index = rng.permutation(n) + 1  # 1..V in transcripts.csv, one per video
    index_of_video = {v: str(int(video_index[k])) for k, v in enumerate(vids)}

    all_utts = sorted(scores)  # string order, as transcripts.csv
    row_of = {u: i for i, u in enumerate(all_utts)}
    video_of = {u: v for v in vids for u in obj[0][v]}
    binary = {u: str(int(scores[u] >= 0)) for u in all_utts}
    _write_csv(
        root / "transcripts.csv",
        [[u, f"WORDS OF {u.upper()}", index_of_video[video_of[u]], binary[u]] for u in all_utts],
    )

    features: dict[str, dict[str, np.ndarray]] = {m: {} for m in DIMS}
    utts: dict[str, list[str]] = {}
    for part in ("train", "test"):
        rows = sorted((u for v in part_videos[part] for u in obj[0][v]), key=row_of.__getitem__)
        utts[part] = rows
        values = {m: np.round(rng.normal(size=(len(rows), d)), 5) for m, d in DIMS.items()}
        _write_csv(
            root / f"text_{part}.csv",
            [[str(row_of[u]), *map(repr, map(float, values["t"][i]))] for i, u in enumerate(rows)],
        )
        for m, x in values.items():
            _write_csv(
                root / FOLDERS[m] / f"{FOLDERS[m]}_{part}0.csv",
                [[*map(repr, map(float, x[i])), binary[u]] for i, u in enumerate(rows)],
            )
            for i, u in enumerate(rows):
                features[m][u] = x[i].astype(np.float32)
    (root / "LICENSE").write_text("generated test data\n")

    label_path: Path | None = None
    if labels == "root":
        label_path = write_pickle(root / LABEL_PICKLE, obj)
    elif labels == "sibling":
        label_path = write_pickle(root.parent / "gcnet-labels" / LABEL_PICKLE, obj)
    elif labels is not None:
        raise ValueError(f"labels must be 'root', 'sibling' or None, got {labels!r}")
    return FakeMosiPoria(
        root=root,
        label_pickle=label_path,
        utts=utts,
        videos=part_videos,
        scores=scores,
        features=features,
        pickle_obj=obj,
    )
