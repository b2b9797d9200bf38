"""``hf:`` audio and text backends on tiny randomly initialised models saved with ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from extract_helpers import read_report, write_manifest

transformers = pytest.importorskip("transformers", reason="extra 'hf' not installed (pip install 'hardymer[hf]')")
sf = pytest.importorskip("soundfile", reason="extra 'audio' not installed (soundfile reads the audio files)")

import torch

from hardymer.errors import ConfigError
from hardymer.extract import extract
from hardymer.extract.base import InputError
from hardymer.extract.hf import HFAudioBackend, HFTextBackend, parse_hf_spec
from hardymer.extract.runner import make_backend

WORDS = [
    "i",
    "really",
    "loved",
    "this",
    "movie",
    "the",
    "plot",
    "was",
    "boring",
    "far",
    "too",
    "long",
    "meh",
    "un",
    "##believ",
    "##able",
    ",",
    ".",
]


def _tiny_audio_config(kind: str):
    kw = {
        "hidden_size": 16,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "conv_dim": (8, 8),
        "conv_stride": (5, 4),
        "conv_kernel": (10, 4),
        "num_conv_pos_embeddings": 8,
        "num_conv_pos_embedding_groups": 2,
        "vocab_size": 8,
    }
    cls = {
        "wav2vec2": transformers.Wav2Vec2Config,
        "hubert": transformers.HubertConfig,
        "wavlm": transformers.WavLMConfig,
    }[kind]
    return cls(**kw)


@pytest.fixture(scope="module")
def audio_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(0)
    out = {}
    for kind in ("wav2vec2", "hubert"):
        d = tmp_path_factory.mktemp(kind)
        transformers.AutoModel.from_config(_tiny_audio_config(kind)).save_pretrained(d)
        transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(d)
        out[kind] = d
    return out


@pytest.fixture(scope="module")
def text_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(0)
    vocab = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    out = {}
    n = len(WORDS) + 5
    cfgs = {
        "bert": transformers.BertConfig(
            vocab_size=n,
            hidden_size=16,
            num_hidden_layers=5,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        ),
        "roberta": transformers.RobertaConfig(
            vocab_size=n,
            hidden_size=16,
            num_hidden_layers=5,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=66,
            pad_token_id=0,
        ),
    }
    for kind, cfg in cfgs.items():
        d = tmp_path_factory.mktemp(kind)
        transformers.AutoModel.from_config(cfg).save_pretrained(d)
        tok.save_pretrained(d)
        out[kind] = d
    return out


def _wav(path: Path, seconds: float, sr: int = 16000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.shape)
    sf.write(path, np.stack([x, x], 1).astype(np.float32), sr)
    return path


def test_spec_parsing() -> None:
    assert parse_hf_spec("hf:/m/wavlm?layer=6&pool=max", {"layer", "pool"}) == (
        "/m/wavlm",
        {"layer": "6", "pool": "max"},
    )
    assert parse_hf_spec("hf:microsoft/wavlm-base", {"layer"}) == ("microsoft/wavlm-base", {})
    with pytest.raises(ConfigError, match="unknown option 'depth'"):
        parse_hf_spec("hf:/m?depth=2", {"layer"})
    with pytest.raises(ConfigError, match="model folder or name"):
        parse_hf_spec("hf:", {"layer"})
    assert isinstance(make_backend("audio", "hf:/x?layer=2"), HFAudioBackend)
    assert isinstance(make_backend("text", "HF:/x?layers=2"), HFTextBackend)


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert"])
def test_audio_layer_pooling_determinism(audio_models: dict[str, Path], tmp_path: Path, kind: str) -> None:
    wav = _wav(tmp_path / "a.wav", 1.0)
    b = HFAudioBackend(f"hf:{audio_models[kind]}")
    b.load()
    assert b.dim == 16 and b.layer == -1
    v = b.embed(wav)
    assert v.shape == (16,) and v.dtype == np.float32 and np.isfinite(v).all()
    np.testing.assert_array_equal(v, b.embed(wav))  # deterministic
    # the same computation by hand: normalised mono signal -> hidden_states[layer] -> mean
    model = transformers.AutoModel.from_pretrained(audio_models[kind]).eval()
    x, _ = sf.read(wav, dtype="float32", always_2d=True)
    sig = x.mean(1)
    sig = (sig - sig.mean()) / np.sqrt(sig.var() + 1e-7)
    with torch.no_grad():
        hs = model(torch.as_tensor(sig)[None], output_hidden_states=True).hidden_states
    np.testing.assert_allclose(v, hs[-1][0].mean(0).numpy(), rtol=1e-4, atol=1e-5)
    b2 = HFAudioBackend(f"hf:{audio_models[kind]}?layer=1&pool=max")
    b2.load()
    np.testing.assert_allclose(b2.embed(wav), hs[1][0].max(0).values.numpy(), rtol=1e-4, atol=1e-5)


def test_audio_resampling_windows_and_errors(audio_models: dict[str, Path], tmp_path: Path) -> None:
    b = HFAudioBackend(f"hf:{audio_models['wav2vec2']}?window=0.5")
    b.load()
    v = b.embed(_wav(tmp_path / "8k.wav", 1.2, sr=8000))  # resampled to 16 kHz, 3 windows
    assert v.shape == (16,) and np.isfinite(v).all()
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    with pytest.raises(InputError, match="unreadable audio"):
        b.embed(tmp_path / "bad.wav")
    bad = HFAudioBackend(f"hf:{audio_models['wav2vec2']}?layer=9")
    with pytest.raises(ConfigError, match="layer 9 out of range"):
        bad.load()


def test_bad_model_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        HFAudioBackend(f"hf:{tmp_path / 'nope'}").load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        HFTextBackend(f"hf:{tmp_path / 'empty'}").load()
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match="expected a model folder"):
        HFTextBackend(f"hf:{tmp_path / 'file.bin'}").load()


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_text_last_k_layers_word_pooling(text_models: dict[str, Path], kind: str) -> None:
    b = HFTextBackend(f"hf:{text_models[kind]}")
    b.load()
    assert b.dim == 16 and b.k == 4
    text = "I really loved this unbelievable movie"
    v = b.embed(text)
    np.testing.assert_array_equal(v, b.embed(text))
    tok = transformers.AutoTokenizer.from_pretrained(text_models[kind])
    model = transformers.AutoModel.from_pretrained(text_models[kind]).eval()
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        hs = model(**enc, output_hidden_states=True).hidden_states
    h = torch.stack(hs[-4:]).sum(0)[0].numpy()
    ids = enc.word_ids(0)
    # [CLS] i really loved this un ##believ ##able movie [SEP]: 6 words, "unbelievable" = 3 sub-words
    words = sorted({w for w in ids if w is not None})
    want = np.mean([h[[i for i, w in enumerate(ids) if w == k]].mean(0) for k in words], axis=0)
    np.testing.assert_allclose(v, want, rtol=1e-4, atol=1e-5)
    sub = HFTextBackend(f"hf:{text_models[kind]}?layers=2&combine=mean&tokens=subwords")
    sub.load()
    h2 = torch.stack(hs[-2:]).mean(0)[0].numpy()
    np.testing.assert_allclose(sub.embed(text), h2[1:-1].mean(0), rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="empty"):
        b.embed("  ")


def test_text_option_errors(text_models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="layers=9"):
        HFTextBackend(f"hf:{text_models['bert']}?layers=9").load()
    with pytest.raises(ConfigError, match="combine must be one of"):
        HFTextBackend(f"hf:{text_models['bert']}?combine=max")


def test_extract_end_to_end_with_hf_backends(
    audio_models: dict[str, Path], text_models: dict[str, Path], tmp_path: Path
) -> None:
    _wav(tmp_path / "u0.wav", 0.8, seed=1)
    _wav(tmp_path / "u1.wav", 0.6, seed=2)
    rows = [
        {"id": "u0", "label": "1", "audio": "u0.wav", "text": "the plot was boring"},
        {"id": "u1", "label": "0", "audio": "u1.wav", "text": "meh"},
        {"id": "u2", "label": "1", "audio": "missing.wav", "text": ""},
    ]
    man = write_manifest(tmp_path / "m.csv", rows)
    out = tmp_path / "feat.npz"
    extract(
        man,
        out,
        audio_backend=f"hf:{audio_models['hubert']}?layer=2",
        text_backend=f"hf:{text_models['bert']}",
        video_backend="none",
        cache_dir=None,
    )
    z = np.load(out, allow_pickle=False)
    assert z["audio"].shape == (3, 16) and z["text"].shape == (3, 16)
    assert z["mask_audio"].tolist() == [1, 1, 0] and z["mask_text"].tolist() == [1, 1, 0]
    report = read_report(out.with_suffix(".report.csv"))
    assert {r["modality"] for r in report} == {"audio", "text"}
