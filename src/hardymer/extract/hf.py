"""Hugging Face ``transformers`` encoders (extra ``hf``): the paper's kind of features.

* audio ``hf:<model folder or name>[?layer=L&pool=mean|max&window=S]``: wav2vec 2.0 / HuBERT /
  WavLM (any ``AutoModel`` with a feature extractor). The file is mixed to mono, resampled to the
  model's sampling rate, normalised by the model's feature extractor, run in windows of ``S``
  seconds (default 20), and the hidden states of layer ``L`` (default ``-1``: the last; ``0`` is
  the input to the first transformer layer) are pooled over all frames.
* text ``hf:<model folder or name>[?layers=K&combine=sum|mean&tokens=words|subwords]``: BERT /
  RoBERTa / DeBERTa (``AutoModel`` + ``AutoTokenizer``). As in GCNet's feature extraction, the
  hidden states of the last ``K`` layers (default 4) are summed (``combine=sum``), special tokens
  ([CLS], [SEP], <s>, </s>) are dropped, sub-word vectors are averaged per word, and the words are
  averaged into one utterance vector (``tokens=words``; ``subwords`` averages the sub-word
  tokens directly, and is what a tokenizer without word ids gets).

A local folder is loaded with ``local_files_only=True`` (no network); a hub name is passed to
``from_pretrained`` as is (it needs the network or a filled hub cache). Inputs are encoded one at
a time (batch of 1) in eval mode, so a vector never depends on the other inputs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from hardymer.errors import ConfigError
from hardymer.extract.base import (
    Backend,
    InputError,
    package_version,
    read_mono,
    register_backend,
    require,
    sha256_file,
)

log = logging.getLogger("hardymer.extract")

AUDIO_OPTIONS = {"layer", "pool", "window"}
TEXT_OPTIONS = {"layers", "combine", "tokens"}


def parse_hf_spec(spec: str, allowed: set[str]) -> tuple[str, dict[str, str]]:
    """``"hf:/models/wavlm?layer=6"`` -> ``("/models/wavlm", {"layer": "6"})``."""
    body = spec.split(":", 1)[1].strip() if ":" in spec else ""
    opts: dict[str, str] = {}
    if "?" in body:
        head, query = body.rsplit("?", 1)
        if "=" in query:
            body = head
            for k, v in parse_qsl(query, keep_blank_values=True, strict_parsing=True):
                if k not in allowed:
                    raise ConfigError(f"backend {spec!r}: unknown option {k!r}; use {', '.join(sorted(allowed))}")
                opts[k] = v
    if not body:
        raise ConfigError(f"backend {spec!r}: give a model folder or name after 'hf:', e.g. hf:/models/wav2vec2-base")
    return body, opts


def _int_option(spec: str, opts: dict[str, str], key: str, default: int) -> int:
    try:
        return int(opts.get(key, default))
    except ValueError:
        raise ConfigError(f"backend {spec!r}: {key} must be an integer, got {opts[key]!r}") from None


def _choice(spec: str, opts: dict[str, str], key: str, choices: tuple[str, ...]) -> str:
    v = opts.get(key, choices[0]).lower()
    if v not in choices:
        raise ConfigError(f"backend {spec!r}: {key} must be one of {', '.join(choices)}, got {v!r}")
    return v


def _locate(model: str) -> tuple[str, bool]:
    """(where to load from, local folder?)."""
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"model {model!r}: expected a model folder (with config.json), got a file")
        if not (p / "config.json").is_file():
            raise ConfigError(f"model folder {p} has no config.json (save the model with save_pretrained)")
        return str(p.resolve()), True
    if model.startswith((".", "/", "~")) or "\\" in model:
        raise ConfigError(f"model folder {model!r} not found")
    return model, False


class _HFBase(Backend):
    def __init__(self, spec: str, model: str, device: str) -> None:
        self.spec, self.model_name, self.device = spec, model, device
        self.name = f"hf:{model}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _transformers(self) -> Any:
        tf = require("transformers", extra="hf", what=f"the {self.modality} backend {self.spec!r}")
        tf.logging.set_verbosity_error()
        tf.logging.disable_progress_bar()
        return tf

    def _load_model(self, tf: Any, where: str, local: bool) -> Any:
        try:
            model = tf.AutoModel.from_pretrained(where, local_files_only=local)
        except Exception as exc:
            raise ConfigError(
                f"{self.modality} model {self.model_name!r} could not be loaded from {where} "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        return model.to(self.device).eval()

    def _layers_count(self) -> int:
        return int(self._model.config.num_hidden_layers) + 1  # hidden_states incl. the input embeddings


class HFAudioBackend(_HFBase):
    """wav2vec 2.0 / HuBERT / WavLM hidden states of one layer, pooled over frames."""

    modality = "audio"

    def __init__(self, spec: str, device: str = "cpu") -> None:
        model, opts = parse_hf_spec(spec, AUDIO_OPTIONS)
        super().__init__(spec, model, device)
        self.layer = _int_option(spec, opts, "layer", -1)
        self.pool = _choice(spec, opts, "pool", ("mean", "max"))
        self.window = float(opts.get("window", 20.0))
        if not self.window > 0:
            raise ConfigError(f"backend {spec!r}: window must be > 0 seconds")

    def load(self) -> None:
        if self._model is not None:
            return
        self._sf = require("soundfile", extra="audio", what=f"the audio backend {self.spec!r}")
        tf = self._transformers()
        where, local = _locate(self.model_name)
        self._model = self._load_model(tf, where, local)
        try:
            self._fe = tf.AutoFeatureExtractor.from_pretrained(where, local_files_only=local)
        except Exception as exc:
            raise ConfigError(
                f"audio model {self.model_name!r}: no feature extractor in {where} "
                f"(preprocessor_config.json; {type(exc).__name__}: {exc})"
            ) from exc
        self.sampling_rate = int(getattr(self._fe, "sampling_rate", 16000))
        n = self._layers_count()
        if not -n <= self.layer < n:
            raise ConfigError(
                f"backend {self.spec!r}: layer {self.layer} out of range for a model with "
                f"{n - 1} layers (use -{n}..{n - 1})"
            )
        self.dim = int(self._model.config.hidden_size)

    def config(self) -> dict:
        return {
            "backend": "hf-audio",
            "model": self.model_name,
            "layer": self.layer,
            "pool": self.pool,
            "window_s": self.window,
            "sampling_rate": getattr(self, "sampling_rate", None),
            "transformers": package_version("transformers"),
        }

    def fingerprint(self, value: Path) -> str:
        return sha256_file(Path(value)).hexdigest()

    def _read(self, path: Path) -> np.ndarray:
        signal, sr = read_mono(self._sf, path)
        if sr != self.sampling_rate:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(int(sr), self.sampling_rate)
            signal = resample_poly(signal, self.sampling_rate // g, int(sr) // g).astype(np.float32)
        return signal

    def embed(self, value: Path) -> np.ndarray:
        import torch

        signal = self._read(Path(value))
        step = int(self.window * self.sampling_rate)
        chunks = [signal[s : s + step] for s in range(0, len(signal), step)]
        if len(chunks) > 1 and len(chunks[-1]) < 0.25 * self.sampling_rate:  # fold a short tail into the last window
            chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
        frames = []
        with self._lock, torch.inference_mode():
            for c in chunks:
                inp = self._fe(c, sampling_rate=self.sampling_rate, return_tensors="pt")
                try:
                    out = self._model(inp["input_values"].to(self.device), output_hidden_states=True)
                except RuntimeError as exc:  # e.g. shorter than the convolutional receptive field
                    raise InputError(f"audio too short or unusable for {self.model_name} ({exc})") from exc
                frames.append(out.hidden_states[self.layer][0].float().cpu().numpy())
        h = np.concatenate(frames, axis=0)
        if h.shape[0] == 0:
            raise InputError("audio too short: the model produced no frame")
        v = h.mean(0) if self.pool == "mean" else h.max(0)
        return v.astype(np.float32)


class HFTextBackend(_HFBase):
    """Sum (or mean) of the last K hidden layers, averaged over the words of the transcript."""

    modality = "text"

    def __init__(self, spec: str, device: str = "cpu") -> None:
        model, opts = parse_hf_spec(spec, TEXT_OPTIONS)
        super().__init__(spec, model, device)
        self.k = _int_option(spec, opts, "layers", 4)
        if self.k < 1:
            raise ConfigError(f"backend {spec!r}: layers must be >= 1")
        self.combine = _choice(spec, opts, "combine", ("sum", "mean"))
        self.tokens = _choice(spec, opts, "tokens", ("words", "subwords"))

    def load(self) -> None:
        if self._model is not None:
            return
        tf = self._transformers()
        where, local = _locate(self.model_name)
        self._model = self._load_model(tf, where, local)
        try:
            self._tok = tf.AutoTokenizer.from_pretrained(where, local_files_only=local)
        except Exception as exc:
            raise ConfigError(
                f"text model {self.model_name!r}: no usable tokenizer in {where} ({type(exc).__name__}: {exc})"
            ) from exc
        n = self._layers_count() - 1
        if self.k > n:
            raise ConfigError(f"backend {self.spec!r}: layers={self.k} but the model has {n} layers")
        limits = [512, int(getattr(self._tok, "model_max_length", 512) or 512)]
        mpe = getattr(self._model.config, "max_position_embeddings", None)
        if mpe:
            limits.append(int(mpe) - (2 if self._model.config.model_type in ("roberta", "xlm-roberta") else 0))
        self.max_length = max(8, min(limits))
        self.dim = int(self._model.config.hidden_size)
        if self.tokens == "words" and not getattr(self._tok, "is_fast", False):
            log.info("text backend %s: slow tokenizer (no word ids): averaging sub-word tokens", self.spec)

    def config(self) -> dict:
        return {
            "backend": "hf-text",
            "model": self.model_name,
            "last_layers": self.k,
            "combine": self.combine,
            "tokens": self.tokens,
            "max_length": getattr(self, "max_length", None),
            "transformers": package_version("transformers"),
        }

    def fingerprint(self, value: str) -> str:
        return hashlib.sha256(value.encode("utf-8")).hexdigest()

    def embed(self, value: str) -> np.ndarray:
        import torch

        if not value or not value.strip():
            raise InputError("empty transcript")
        enc = self._tok(
            value, return_tensors="pt", truncation=True, max_length=self.max_length, return_special_tokens_mask=True
        )
        special = enc.pop("special_tokens_mask")[0].bool().numpy()
        word_ids = enc.word_ids(0) if self.tokens == "words" and getattr(enc, "is_fast", False) else None
        with self._lock, torch.inference_mode():
            out = self._model(**{k: v.to(self.device) for k, v in enc.items()}, output_hidden_states=True)
            hs = torch.stack(out.hidden_states[-self.k :]).float()
            h = (hs.sum(0) if self.combine == "sum" else hs.mean(0))[0].cpu().numpy()
        keep = ~special
        if not keep.any():
            raise InputError("transcript has no tokens besides special tokens")
        if word_ids is None:
            return h[keep].mean(0).astype(np.float32)
        words: dict[int, list[int]] = {}
        for i, w in enumerate(word_ids):
            if w is not None and keep[i]:
                words.setdefault(int(w), []).append(i)
        if not words:
            return h[keep].mean(0).astype(np.float32)
        return np.mean([h[idx].mean(0) for idx in words.values()], axis=0).astype(np.float32)


@register_backend("audio", "hf", prefix=True)
def _hf_audio(spec: str, *, device: str = "cpu", **_: Any) -> HFAudioBackend:
    return HFAudioBackend(spec.strip(), device=device)


@register_backend("text", "hf", prefix=True)
def _hf_text(spec: str, *, device: str = "cpu", **_: Any) -> HFTextBackend:
    return HFTextBackend(spec.strip(), device=device)
