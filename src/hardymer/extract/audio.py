"""Audio: openSMILE eGeMAPSv02 functionals (88-d) through the ``opensmile`` wheel (extra ``audio``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from hardymer.extract.base import (
    Backend,
    InputError,
    package_version,
    read_mono,
    register_backend,
    require,
    sha256_file,
)

EGEMAPS_DIM = 88


class OpenSmileBackend(Backend):
    """eGeMAPSv02 functionals of the whole file (mixed to mono). Files are read with ``soundfile``
    (wav, flac, ogg, and mp3 where the bundled libsndfile supports it)."""

    modality = "audio"
    name = "opensmile"

    def __init__(self) -> None:
        self.dim = EGEMAPS_DIM
        self._local = threading.local()

    def load(self) -> None:
        what = "the audio backend 'opensmile'"
        self._opensmile = require("opensmile", extra="audio", what=what)
        self._sf = require("soundfile", extra="audio", what=what)
        smile = self._smile()
        n = len(smile.feature_names)
        if n != EGEMAPS_DIM:  # pragma: no cover - depends on the installed opensmile
            raise RuntimeError(f"opensmile eGeMAPSv02 functionals have {n} features, expected {EGEMAPS_DIM}")

    def _smile(self) -> Any:
        smile = getattr(self._local, "smile", None)
        if smile is None:  # one extractor per thread
            smile = self._opensmile.Smile(
                feature_set=self._opensmile.FeatureSet.eGeMAPSv02,
                feature_level=self._opensmile.FeatureLevel.Functionals,
            )
            self._local.smile = smile
        return smile

    def config(self) -> dict:
        return {
            "backend": self.name,
            "feature_set": "eGeMAPSv02",
            "level": "Functionals",
            "mono": "mean",
            "opensmile": package_version("opensmile"),
        }

    def fingerprint(self, value: Path) -> str:
        return sha256_file(Path(value)).hexdigest()

    def embed(self, value: Path) -> np.ndarray:
        path = Path(value)
        signal, sr = read_mono(self._sf, path)
        try:
            df = self._smile().process_signal(signal, sr)
        except Exception as exc:
            raise InputError(f"openSMILE failed on {path} ({type(exc).__name__}: {exc})") from exc
        return np.asarray(df.to_numpy(dtype=np.float32)).reshape(-1)


@register_backend("audio", "opensmile")
def _opensmile(spec: str, **_: Any) -> OpenSmileBackend:
    return OpenSmileBackend()
