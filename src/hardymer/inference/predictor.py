"""Running a trained model on new data with any subset of audio, text and video.

    >>> import hardymer
    >>> model = hardymer.load("runs/hm-at/checkpoint.pt")
    >>> out = model.predict(audio=A, text=T, video=None, groups=G)
    >>> out.scores            # regression: [N] scores; classification: out.probs [N, C]
    >>> out.modalities        # per utterance, the modalities actually used, e.g. "at"

Inputs are validated against the checkpoint (dims, NaN/inf); the feature standardisation saved
with the checkpoint (fit on its training fold) is applied. A modality passed as ``None`` is
missing for every utterance; ``masks={"v": bool[N]}`` marks it missing for some.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hardymer.conditions import MODALITIES, MODALITY_NAMES
from hardymer.data.batching import GroupBatcher
from hardymer.data.dataset import MultimodalDataset, Split, Task
from hardymer.data.standardize import Standardizer
from hardymer.errors import DataError
from hardymer.inference.compat import check_modalities
from hardymer.training.checkpoint import load_checkpoint

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """Model outputs in input order."""

    modalities: list[str]  # modalities used per utterance ("at", "v", ...)
    probs: np.ndarray | None = None  # [N, C] class probabilities (classification)
    labels: list[str] | None = None  # predicted class names (classification)
    scores: np.ndarray | None = None  # [N] scores (regression)


class Predictor:
    """A loaded checkpoint ready for inference (one forward pass, no retrieval)."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        self.path = str(path)
        self.method, self.ckpt = load_checkpoint(path, device=device)
        self.device = device
        self.dims: dict[str, int] = dict(self.ckpt["spec"]["dims"])
        self.task: Task = self.ckpt["spec"]["task"]
        self.class_names: list[str] | None = self.ckpt["dataset"].get("class_names")
        st = self.ckpt.get("standardizer")
        self.standardizer = Standardizer.from_state_dict(st) if st is not None else None
        # groups are chunked as in training and evaluation (a model trained on chunks sees chunks)
        self.max_len: int | None = ((self.ckpt.get("config") or {}).get("train") or {}).get("max_len")

    def predict(
        self,
        audio: np.ndarray | None = None,
        text: np.ndarray | None = None,
        video: np.ndarray | None = None,
        groups: np.ndarray | list | None = None,
        order: np.ndarray | None = None,
        masks: dict[str, np.ndarray] | None = None,
        batch_size: int = 16,
        strict: bool = False,
        speakers: np.ndarray | list | None = None,
    ) -> Prediction:
        """Predict for N utterances; ``groups`` lets the model attend across a dialogue/video and
        ``speakers`` (one label per utterance) gives speaker-aware models (``gcnet``) the turns.

        A fixed-protocol model given other modality sets than it was trained on logs one warning
        naming both (``strict``: ``ConfigError``); a model that uses group context (e.g.
        ``gru-context``, ``backbone``) given no ``groups`` logs a warning (each utterance is then
        its own group)."""
        given = {"a": audio, "t": text, "v": video}
        n = None
        for m, x in given.items():
            if x is not None:
                x = np.asarray(x)
                if not _is_numeric(x):
                    raise DataError(f"dtype {x.dtype}, expected numbers", field=MODALITY_NAMES[m])
                if x.ndim != 2:
                    raise DataError(
                        f"expected a 2-D array [N, {self.dims[m]}], got shape {x.shape}", field=MODALITY_NAMES[m]
                    )
                if n is not None and x.shape[0] != n:
                    raise DataError(f"{x.shape[0]} rows, other modalities have {n}", field=MODALITY_NAMES[m])
                n = x.shape[0]
        if n is None:
            raise DataError("no modality given: pass at least one of audio, text, video")
        masks = {k[0] if k in ("audio", "text", "video") else k: _mask_array(v, k) for k, v in (masks or {}).items()}
        for k in masks:
            if k not in MODALITIES:
                raise DataError(f"unknown modality {k!r} in masks; use audio, text, video (or a, t, v)", field="masks")
        feats, avail = {}, np.zeros((n, 3), bool)
        for j, m in enumerate(MODALITIES):
            x = given[m]
            if x is None:
                feats[m] = np.zeros((n, self.dims[m]), np.float32)
                continue
            x = np.asarray(x, dtype=np.float32)
            if x.shape[1] != self.dims[m]:
                raise DataError(
                    f"{x.shape[1]} features, the checkpoint expects {self.dims[m]}",
                    source=self.path,
                    field=MODALITY_NAMES[m],
                )
            mk = masks.get(m, np.ones(n, bool))
            if mk.shape != (n,):
                raise DataError(f"mask shape {mk.shape}, expected ({n},)", field=f"mask_{MODALITY_NAMES[m]}")
            bad = mk & ~np.isfinite(x).all(1)
            if bad.any():
                raise DataError(
                    f"NaN/inf in {int(bad.sum())} rows (first row {int(np.flatnonzero(bad)[0])}); "
                    "mask them as missing instead",
                    field=MODALITY_NAMES[m],
                )
            x = np.where(mk[:, None], np.nan_to_num(x), 0.0).astype(np.float32)
            if self.standardizer is not None:
                x = self.standardizer.transform_array(m, x, mk)
            feats[m] = x
            avail[:, j] = mk
        none = ~avail.any(1)
        if none.any():
            raise DataError(
                f"{int(none.sum())} utterances have no modality at all (first row {int(np.flatnonzero(none)[0])})"
            )
        check_modalities(
            self.ckpt,
            {"".join(m for j, m in enumerate(MODALITIES) if row[j]) for row in avail},
            strict=strict,
            source=self.path,
        )
        if groups is None and getattr(self.method, "uses_groups", False):
            log.warning(
                "%s: this %s model uses the context of the other utterances of a group (dialogue / video), "
                "but no groups were given: every utterance is predicted on its own",
                self.path,
                self.ckpt.get("method", "model"),
            )
        g = np.asarray(groups).astype(str) if groups is not None else np.array([f"u{i}" for i in range(n)])
        if g.shape != (n,):
            raise DataError(f"groups shape {g.shape}, expected ({n},)", field="groups")
        o = np.asarray(order, dtype=np.int64) if order is not None else _appearance_order(g)
        spk = np.asarray(speakers).astype(str) if speakers is not None else None
        if spk is not None and spk.shape != (n,):
            raise DataError(f"speakers shape {spk.shape}, expected ({n},)", field="speakers")
        idx = np.arange(n)
        ds = MultimodalDataset(
            name="predict",
            task=self.task,
            features=feats,
            available=avail,
            labels=np.zeros(n, np.int64 if self.task == "classification" else np.float32),
            groups=g,
            order=o,
            utt_ids=np.array([str(i) for i in idx]),
            folds=[Split("predict", idx, idx[:0], idx[:0])],
            class_names=self.class_names,
            speakers=spk,
        )
        out = np.zeros((n, self.method.spec.output_dim) if self.task == "classification" else (n,), np.float32)
        with torch.no_grad():
            for batch in GroupBatcher(ds, idx, batch_size=batch_size, max_len=self.max_len, device=self.device):
                pred = self.method.predict_output(batch)
                out[batch.idx[batch.valid].cpu().numpy()] = pred[batch.valid].cpu().numpy()
        used = ["".join(m for j, m in enumerate(MODALITIES) if avail[i, j]) for i in range(n)]
        if self.task == "classification":
            names = self.class_names or [str(i) for i in range(out.shape[1])]
            return Prediction(modalities=used, probs=out, labels=[names[k] for k in out.argmax(1)])
        return Prediction(modalities=used, scores=out)


def _is_numeric(x: np.ndarray) -> bool:
    """Numbers (or booleans): what a feature or order array must hold."""
    return x.dtype.kind in "biuf"


#: arrays of ``predict_file`` that must hold numbers
NUMERIC_ARRAYS = ("audio", "text", "video", "order")


def _mask_array(values: object, key: str) -> np.ndarray:
    """A 0/1 (or bool) availability vector as bool; any other value is an error naming the mask."""
    arr = np.asarray(values)
    name = f"mask_{MODALITY_NAMES.get(key, key)}"
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(f"expected 0/1 values, got dtype {arr.dtype}", field=name)
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise DataError(
            f"expected 0/1 values, got {arr[bad].ravel()[0]!r} ({int(bad.sum())} entries other than 0/1)", field=name
        )
    return arr.astype(bool)


#: arrays ``predict_file`` reads; the other arrays of the npz dataset format are accepted and ignored
PREDICT_ARRAYS = (
    "audio",
    "text",
    "video",
    "mask_audio",
    "mask_text",
    "mask_video",
    "groups",
    "order",
    "utt_ids",
    "speakers",
)


def _appearance_order(groups: np.ndarray) -> np.ndarray:
    seen: dict[str, int] = {}
    out = np.empty(len(groups), np.int64)
    for i, g in enumerate(groups):
        out[i] = seen.get(g, 0)
        seen[g] = out[i] + 1
    return out


def load(path: str | Path, device: str = "cpu") -> Predictor:
    """Load a checkpoint written by ``hardymer train`` for inference."""
    return Predictor(path, device=device)


def predict_file(
    checkpoint: str | Path, input_path: str | Path, out_csv: str | Path | None = None, strict: bool = False
) -> str:
    """Predict for an ``.npz`` file (arrays ``audio``/``text``/``video`` — any subset —, optional
    ``mask_*``, ``groups``, ``order``, ``speakers``, ``utt_ids``); return (and optionally write) CSV text.
    ``strict``: refuse modality sets a fixed-protocol model was not trained on (see :meth:`Predictor.predict`)."""
    import csv
    import io

    from hardymer._io import atomic_write_text
    from hardymer.data.loaders.npz import open_npz

    p = Path(input_path)
    try:
        with open_npz(p) as z:
            arrays = {k: z[k] for k in z.files}
    except DataError:
        raise
    except ValueError as exc:  # an object array under allow_pickle=False
        raise DataError(
            "object arrays are refused: store numbers, or fixed-width strings (np.array(list_of_str, dtype=str))",
            source=str(p),
        ) from exc
    from hardymer.data.loaders.npz import KNOWN_KEYS

    unknown = sorted(set(arrays) - set(PREDICT_ARRAYS) - set(KNOWN_KEYS))
    if unknown:
        raise DataError(
            f"unknown array(s) {', '.join(map(repr, unknown))}; predict reads {', '.join(PREDICT_ARRAYS)}",
            source=str(p),
            field=unknown[0],
        )
    for k in NUMERIC_ARRAYS:
        if k in arrays and not _is_numeric(arrays[k]):
            raise DataError(f"array {k!r} has dtype {arrays[k].dtype}, expected numbers", source=str(p))
    model = load(checkpoint)
    masks = {m: arrays[f"mask_{MODALITY_NAMES[m]}"] for m in MODALITIES if f"mask_{MODALITY_NAMES[m]}" in arrays}
    try:
        res = model.predict(
            audio=arrays.get("audio"),
            text=arrays.get("text"),
            video=arrays.get("video"),
            groups=arrays.get("groups"),
            order=arrays.get("order"),
            masks=masks,
            strict=strict,
            speakers=arrays.get("speakers"),
        )
    except DataError as exc:
        raise DataError(str(exc), source=str(p)) from exc
    n = len(res.modalities)
    ids = arrays.get("utt_ids", np.array([f"u{i:06d}" for i in range(n)])).astype(str)
    if ids.shape != (n,):
        raise DataError(f"utt_ids shape {ids.shape}, expected ({n},)", source=str(p), field="utt_ids")
    groups = arrays.get("groups", ids).astype(str)
    buf = io.StringIO()
    w = csv.writer(buf)
    if res.probs is not None and res.labels is not None:  # classification
        names = model.class_names or [str(i) for i in range(res.probs.shape[1])]
        w.writerow(["utt_id", "group", "modalities", "prediction"] + [f"p_{c}" for c in names])
        for i in range(n):
            w.writerow([ids[i], groups[i], res.modalities[i], res.labels[i]] + [f"{v:.6f}" for v in res.probs[i]])
    elif res.scores is not None:  # regression
        w.writerow(["utt_id", "group", "modalities", "score"])
        for i in range(n):
            w.writerow([ids[i], groups[i], res.modalities[i], f"{res.scores[i]:.6f}"])
    text = buf.getvalue()
    if out_csv is not None:
        atomic_write_text(out_csv, text)
    return text
