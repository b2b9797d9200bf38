"""Shared stage 1: identical results to per-condition stage 1, and the cache is really reused."""

from __future__ import annotations

import numpy as np
import pytest

import hardymer.training.trainer as trainer_mod
from hardymer._cache import train_key
from hardymer.config import config_hash, to_container
from hardymer.data import create_dataset
from hardymer.training.run import run_experiment

SMALL = {"hidden": 32, "depth": 1, "decoder_hidden": 64}


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=0)


@pytest.fixture(scope="module")
def cfg(tiny_config):
    """``cfg(method, condition, out, cache, share=True, epochs=4, **train)``: a tiny run (data seed 0) with
    the small models of this file, trained-model cache in ``cache`` (``None``: no cache)."""

    def make(method, condition, out, cache, share=True, epochs=4, **train):
        opt = dict(SMALL, **({"critic_epochs": 3} if method == "hardymer" else {}))
        return tiny_config(
            out,
            epochs=epochs,
            data_seed=0,
            method=method,
            method_options=opt,
            condition=condition,
            cache_dir=str(cache) if cache else None,
            train={"share_stage1": share, **train},
        )

    return make


def _close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, dict):
            _close(v, b[k])
        else:
            assert v == pytest.approx(b[k], abs=1e-6), k


class _Stage1Epochs:
    """Counts the stage-1 training epochs the trainer runs."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.n = 0
        orig = trainer_mod.train_epoch

        def counting(method, batches, ctx, opt, epoch):
            if method.stage(epoch, ctx.train.epochs) == 1:
                self.n += 1
            return orig(method, batches, ctx, opt, epoch)

        mp.setattr(trainer_mod, "train_epoch", counting)


@pytest.mark.parametrize("method", ["backbone", "hardymer", "momke"])
def test_shared_stage1_gives_identical_results(tmp_path, cfg, ds, method):
    counter = None
    with pytest.MonkeyPatch.context() as mp:
        counter = _Stage1Epochs(mp)
        for i, cond in enumerate(("a", "tv")):
            ref = run_experiment(cfg(method, cond, tmp_path / f"u{cond}", tmp_path / "c0", share=False), ds=ds)
            before = counter.n
            got = run_experiment(cfg(method, cond, tmp_path / f"s{cond}", tmp_path / "c1"), ds=ds)
            assert not ref["stage1_shared"]
            _close(got["val"], ref["val"])
            _close(got["test"], ref["test"])
            assert got["best_epoch"] == ref["best_epoch"] and got["stage1_epochs"] == ref["stage1_epochs"] == 2
            if i == 0:
                assert not got["stage1_shared"] and counter.n > before
            else:  # the second condition reuses the first one's stage 1 (student and teacher)
                assert got["stage1_shared"] and counter.n == before
    assert not list((tmp_path / "c0").glob("stage1-*"))  # share_stage1=false writes no entry
    n_entries = len(list((tmp_path / "c1").glob("stage1-*.pt")))
    assert n_entries == (2 if method == "hardymer" else 1)  # the teacher starts from other weights


def test_backbone_and_hardymer_students_share_stage1(tmp_path, cfg, ds):
    run_experiment(cfg("backbone", "a", tmp_path / "b", tmp_path / "c"), ds=ds)
    ref = run_experiment(cfg("hardymer", "a", tmp_path / "h0", None), ds=ds)
    got = run_experiment(cfg("hardymer", "a", tmp_path / "h1", tmp_path / "c"), ds=ds)
    assert got["stage1_shared"]
    _close(got["test"], ref["test"])


def test_other_stage1_inputs_get_their_own_entry(tmp_path, cfg, ds):
    cache = tmp_path / "c"
    run_experiment(cfg("backbone", "a", tmp_path / "r1", cache), ds=ds)
    r2 = run_experiment(cfg("backbone", "t", tmp_path / "r2", cache, lr=2e-3), ds=ds)
    r3 = run_experiment(cfg("backbone", "t", tmp_path / "r3", cache, epochs=6), ds=ds)
    assert not r2["stage1_shared"] and not r3["stage1_shared"]
    assert len(list(cache.glob("stage1-*.pt"))) == 3


def test_a_stage1_that_moves_numpy_is_not_shared(tmp_path, cfg, ds, monkeypatch):
    from hardymer.models.backbone import Backbone

    orig = Backbone.stage1_loss

    def noisy(self, batch):
        np.random.random()  # a method drawing from a generator the entry does not restore
        return orig(self, batch)

    monkeypatch.setattr(Backbone, "stage1_loss", noisy)
    run_experiment(cfg("backbone", "a", tmp_path / "r", tmp_path / "c"), ds=ds)
    assert not list((tmp_path / "c").glob("stage1-*"))


def test_share_stage1_is_hash_neutral_at_its_default(tmp_path, cfg):
    run = cfg("backbone", "a", tmp_path / "r", None)
    d = to_container(run)
    del d["train"]["share_stage1"], d["train"]["precision"]
    assert config_hash(run) == config_hash(d)
    assert config_hash(cfg("backbone", "a", tmp_path / "r", None, share=False)) != config_hash(run)
    # trained-model caches ignore it at any value (it changes how, not what, is trained)
    assert train_key({"lr": 1.0, "share_stage1": False}, "model") == {"lr": 1.0}
    assert train_key({"lr": 1.0, "share_stage1": False, "device": "cpu"}, "hardness") == {"lr": 1.0}
    assert train_key({"lr": 1.0, "device": "cuda", "num_threads": 2}, "run") == {"lr": 1.0}
    s1 = train_key({"lr": 1.0, "patience": 3, "precision": "bf16", "fast_dropout": False}, "stage1")
    assert "patience" not in s1 and s1["precision"] == "bf16" and "fast_dropout" not in s1
    with pytest.raises(ValueError, match="purpose"):
        train_key({}, "everything")
