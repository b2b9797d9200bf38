"""Fixtures of the extraction tests."""

from __future__ import annotations

import pytest
from extract_helpers import FakeTextBackend


@pytest.fixture
def fake_text(monkeypatch: pytest.MonkeyPatch) -> FakeTextBackend:
    """Route ``--text-backend`` (any name but 'none') to one shared :class:`FakeTextBackend`."""
    from hardymer.extract import runner

    backend = FakeTextBackend()
    real = runner.make_backend

    def make(modality: str, spec: str, **kw):  # type: ignore[no-untyped-def]
        if modality == "text" and spec != "none":
            return backend
        return real(modality, spec, **kw)

    monkeypatch.setattr(runner, "make_backend", make)
    return backend
