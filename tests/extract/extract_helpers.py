"""Helpers of the extraction tests (imported by name: tests/extract is on sys.path under pytest)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from hardymer.extract.base import Backend, InputError


def write_manifest(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    cols = columns or list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def read_report(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class FakeTextBackend(Backend):
    """Deterministic 4-d vectors from the text's hash; counts ``embed`` calls; 'boom' raises."""

    modality = "text"
    name = "fake"

    def __init__(self) -> None:
        self.dim = 4
        self.calls = 0

    def load(self) -> None:
        pass

    def config(self) -> dict:
        return {"backend": "fake"}

    def fingerprint(self, value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    def embed(self, value: str) -> np.ndarray:
        self.calls += 1
        if value == "boom":
            raise RuntimeError("backend exploded")
        if value == "nan":
            return np.full(4, np.nan, np.float32)
        if value == "bad input":
            raise InputError("unusable text")
        h = hashlib.sha256(value.encode()).digest()
        return np.frombuffer(h[:16], dtype=np.uint32).astype(np.float32) / 2**32 + 0.5
