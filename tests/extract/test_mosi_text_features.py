"""mosi-poria with ``text_features=FILE.npz`` (e.g. MiniLM features from ``hardymer extract``)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hardymer.data.loaders.mosi_poria import load_mosi_poria
from hardymer.errors import DataError


@pytest.fixture(scope="module")
def mosi(mosi_poria_root, gcnet_labels_dir):
    with open(mosi_poria_root / "transcripts.csv", newline="") as fh:
        ids = [r[0] for r in csv.reader(fh) if r]
    return mosi_poria_root, ids


def test_text_features_replace_cnn_text(tmp_path, mosi):
    root, ids = mosi
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(ids), 6)).astype(np.float32)
    mask = np.ones(len(ids), np.uint8)
    mask[5] = 0
    perm = rng.permutation(len(ids))  # any row order: matched by utterance id
    np.savez(tmp_path / "t.npz", utt_ids=np.array(ids)[perm], text=x[perm], mask_text=mask[perm])
    base = load_mosi_poria(root)
    ds = load_mosi_poria(root, text_features=tmp_path / "t.npz")
    assert base.dims["t"] == 100 and ds.dims == {"a": 73, "t": 6, "v": 100}
    row = {u: i for i, u in enumerate(ids)}
    take = [row[u] for u in ds.utt_ids]
    expect = x[take]
    expect[~mask[take].astype(bool)] = 0
    assert np.array_equal(ds.features["t"], expect)
    assert ds.available[:, 1].sum() == len(ids) - 1 and ds.available[:, [0, 2]].all()
    assert np.array_equal(ds.features["a"], base.features["a"]) and np.array_equal(ds.labels, base.labels)
    assert [s.test.tolist() for s in ds.folds] == [s.test.tolist() for s in base.folds]


def test_text_features_must_cover_every_utterance(tmp_path, mosi):
    root, ids = mosi
    p = tmp_path / "short.npz"
    np.savez(p, utt_ids=np.array(ids[1:]), text=np.zeros((len(ids) - 1, 3), np.float32))
    with pytest.raises(DataError, match="missing") as ei:
        load_mosi_poria(root, text_features=p)
    assert str(p) in str(ei.value) and repr(ids[0]) in str(ei.value)
    q = tmp_path / "notext.npz"
    np.savez(q, utt_ids=np.array(ids))
    with pytest.raises(DataError, match="'text'"):
        load_mosi_poria(root, text_features=q)
    with pytest.raises(DataError, match="not found"):
        load_mosi_poria(root, text_features=tmp_path / "nope.npz")
