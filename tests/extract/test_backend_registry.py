"""Extractor backends are looked up in the registry their modules fill, by name or by prefix."""

from __future__ import annotations

import pytest

from hardymer.errors import ConfigError
from hardymer.extract.base import BACKENDS, find_backend, register_backend
from hardymer.extract.runner import make_backend


def test_builtin_backends_are_registered_by_their_modules():
    names = {(BACKENDS.meta(k)["modality"], BACKENDS.meta(k)["name"]) for k in BACKENDS.names()}
    assert {
        ("audio", "opensmile"),
        ("audio", "hf"),
        ("text", "minilm"),
        ("text", "hf"),
        ("text", "sentence-transformers"),
        ("video", "fer"),
    } <= names
    assert find_backend("text", "MiniLM") is BACKENDS.get("text:minilm")  # names are case-insensitive
    assert find_backend("audio", "hf:models/wavlm?layer=6") is BACKENDS.get("audio:hf")
    assert find_backend("audio", "hf:") is None  # a prefix needs something after it
    assert find_backend("video", "minilm") is None  # per modality
    assert make_backend("video", "none") is None


def test_unknown_backend_is_one_clear_error():
    with pytest.raises(ConfigError, match="unknown audio backend 'wav2vec'; choose opensmile"):
        make_backend("audio", "wav2vec")


def test_a_new_backend_registers_where_it_is_defined():
    sentinel = object()

    @register_backend("video", "toy-test-backend")
    def _toy(spec, **kw):
        return sentinel

    try:
        assert make_backend("video", "toy-test-backend") is sentinel
    finally:
        BACKENDS.unregister("video:toy-test-backend")
    assert find_backend("video", "toy-test-backend") is None
