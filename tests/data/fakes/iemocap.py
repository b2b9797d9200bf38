"""A generated IEMOCAP in the layouts ``scripts/prepare_iemocap.py`` reads (the ``../shared`` tree)::

    root/data/iemocap-audio8/audio_features.csv   wav_file, label, 8 audio statistics (header; rows not
                                                  in the pickles' order, plus utterances of other emotions)
    root/data/iemocap-audio8/df_iemocap.csv       start_time, end_time, wav_file, emotion, val, act, dom
    root/data/gcnet-labels/IEMOCAP_features_raw_{4,6}way.pkl   the GCNet label pickles (see fakes/gcnet.py)

The audio statistics are heavy-tailed and of both signs, like the real ones; the CSV's ``label`` column is
the extractor's own code, not the pickles' class id. ``missing`` utterances of the pickles get no audio row.
Everything is a function of the seed.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .gcnet import PICKLES, make_iemocap, write_pickle

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
EMOTIONS6 = ("hap", "sad", "neu", "ang", "exc", "fru")  # df_iemocap.csv's codes of the 6-way class ids
EXTRACTOR_CODE = {"ang": 0, "hap": 1, "exc": 2, "sad": 3, "fru": 4, "fea": 5, "sur": 6, "neu": 7, "xxx": 8}
AUDIO_DIR = Path("data") / "iemocap-audio8"
LABEL_DIR = Path("data") / "gcnet-labels"


@dataclass
class FakeIemocap:
    """What :func:`make_iemocap_shared` wrote."""

    root: Path  # the shared folder (pass as --shared)
    four: list  # the 4-way pickle object
    six: list  # the 6-way pickle object
    audio: dict[str, np.ndarray] = field(default_factory=dict)  # utterance id -> the 8 raw values written
    missing: list[str] = field(default_factory=list)  # pickle utterances without an audio row

    @property
    def audio_csv(self) -> Path:
        return self.root / AUDIO_DIR / "audio_features.csv"

    @property
    def df_csv(self) -> Path:
        return self.root / AUDIO_DIR / "df_iemocap.csv"

    def pickle(self, classes: int) -> Path:
        return self.root / LABEL_DIR / PICKLES[f"iemocap{classes}"]

    def obj(self, classes: int) -> list:
        return self.four if classes == 4 else self.six

    def rows(self, classes: int) -> list[tuple[str, str, int, str, str]]:
        """``(utt_id, dialogue, label, speaker, transcript)`` in the script's row order."""
        o = self.obj(classes)
        return [(u, d, int(y), s, t) for d in sorted(o[0]) for u, y, s, t in zip(o[0][d], o[1][d], o[2][d], o[3][d])]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def make_iemocap_shared(
    root: Path,
    seed: int = 0,
    dialogues_per_session: int = 4,
    missing: Collection[str] | int = 2,
    extra: int = 3,
) -> FakeIemocap:
    """Write the tree into ``root``; ``missing``: utterance ids without audio, or how many of the 4-way
    set's last session to leave out; ``extra``: audio rows of utterances in neither pickle."""
    rng = np.random.default_rng(seed + 77)
    four, six = make_iemocap(seed, dialogues_per_session=dialogues_per_session)
    for k, obj in ((4, four), (6, six)):
        write_pickle(root / LABEL_DIR / PICKLES[f"iemocap{k}"], obj)
    utts6 = [(u, d, y) for d in sorted(six[0]) for u, y in zip(six[0][d], six[1][d])]
    if isinstance(missing, int):
        last = [u for d in sorted(four[0]) for u in four[0][d]]
        missing = last[-missing:] if missing else []
    missing = list(missing)
    other = [(f"{utts6[i][1]}_X{i:03d}", utts6[i][1], -1) for i in range(extra)]  # xxx-labelled utterances
    audio: dict[str, np.ndarray] = {}
    audio_rows, df_rows = [], []
    for u, _, y in utts6 + other:
        emo = EMOTIONS6[y] if y >= 0 else "xxx"
        t0 = float(rng.uniform(0, 100))
        df_rows.append([f"{t0:.2f}", f"{t0 + rng.uniform(1, 8):.2f}", u, emo, "3.0", "2.5", "2.5"])
        if u in missing:
            continue
        x = np.exp(rng.normal(-3.0, 2.0, size=len(AUDIO_COLUMNS))) * rng.choice([-1.0, 1.0], size=len(AUDIO_COLUMNS))
        audio[u] = x
        audio_rows.append([u, str(EXTRACTOR_CODE[emo]), *(repr(float(v)) for v in x)])
    order = rng.permutation(len(audio_rows))
    _write_csv(
        root / AUDIO_DIR / "audio_features.csv", ["wav_file", "label", *AUDIO_COLUMNS], [audio_rows[i] for i in order]
    )
    _write_csv(
        root / AUDIO_DIR / "df_iemocap.csv",
        ["start_time", "end_time", "wav_file", "emotion", "val", "act", "dom"],
        df_rows,
    )
    return FakeIemocap(root=root, four=four, six=six, audio=audio, missing=missing)
