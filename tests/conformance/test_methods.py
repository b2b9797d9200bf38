"""Checks every registered method and every preset must pass (in the spirit of scikit-learn's
``check_estimator``). The cases are generated at collection time from ``list_methods()`` and
``load_presets()``: a method or preset added later is covered by registering it.

Each case (method or preset x task) is fitted once on tiny synthetic data for 2 epochs under the
unified protocol (so the model sees every condition) and shared by the checks through a
module-scoped fixture:

- padding invariance: extra all-padding groups, or a longer group in the batch, change no output;
- mask respect: the values stored for a missing modality change no output;
- permutation: permuting the groups of a batch permutes the outputs;
- determinism: two fits with one seed give identical weights;
- checkpoint round trip: ``hardymer.load(path).predict`` equals the in-memory model to 1e-6;
- ``predict`` with every modality subset equals the in-memory model under that condition;
- finite outputs on extreme but valid inputs (features scaled by 1e4).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

import hardymer
from hardymer.catalog.presets import load_presets
from hardymer.conditions import CONDITIONS, MODALITIES, MODALITY_NAMES
from hardymer.config import default_config
from hardymer.data import Standardizer
from hardymer.data.batching import GroupBatcher
from hardymer.data.loaders.synthetic import make_synthetic
from hardymer.models import create_method, list_methods, method_config_class
from hardymer.models.base import MethodSpec
from hardymer.training.checkpoint import save_checkpoint
from hardymer.models.context import FitContext
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.data.protocol import make_condition_sampler
from hardymer.training.seeding import seed_everything
from hardymer.training.trainer import fit

#: size options applied where a method's config has them (keeps every case in a few seconds)
SMALL = {"hidden": 16, "decoder_hidden": 32, "critic_epochs": 2, "heads": 2, "depth": 1, "layers": 1}
TASKS = ("classification", "regression")


def _cases() -> list[tuple[str, str, dict]]:
    """(label, registered method, options) for every preset and every registered method."""
    presets = load_presets()
    cases = [(name, p["method"], dict(p.get("options") or {})) for name, p in sorted(presets.items())]
    cases += [(m, m, {}) for m in list_methods() if m not in presets]
    return cases


CASES = _cases()


def _fit(method: str, options: dict, task: str, seed: int = 0):
    ds = make_synthetic(seed=0, task=task, size="tiny", dims=(6, 8, 5))
    fold = ds.folds[0]
    std = Standardizer.fit(ds, fold.train)
    ds_in = std.transform(ds)
    fields = {f.name for f in dataclasses.fields(method_config_class(method))}
    opts = {k: v for k, v in SMALL.items() if k in fields}
    opts.update(options)
    seed_everything(seed)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    model = create_method(method, spec, **opts)
    cfg = default_config()
    cfg.train.epochs, cfg.train.batch_size, cfg.train.patience = 2, 4, 0
    ctx = FitContext(ds=ds_in, fold=fold, conditions=make_condition_sampler("unified", "atv", seed), train=cfg.train,
                     seed=seed, device=torch.device("cpu"),
                     run_key={"dataset": ds.name, "fold": fold.name, "seed": seed, "task": task}, teacher_provider=load_or_fit_teacher)
    fit(model, ctx)
    model.eval()
    return ds, ds_in, std, model, cfg


@pytest.fixture(scope="module", params=[(c, t) for c in CASES for t in TASKS],
                ids=[f"{c[0]}-{t}" for c in CASES for t in TASKS])
def fitted(request, tmp_path_factory):
    (label, method, options), task = request.param
    ds, ds_in, std, model, cfg = _fit(method, options, task)
    path = tmp_path_factory.mktemp(f"{label}-{task}") / "checkpoint.pt"
    save_checkpoint(path, model, method, standardizer=std, config={"train": {"max_len": None}},
                    dataset={"name": ds.name, "task": ds.task, "class_names": ds.class_names, "fold": ds.folds[0].name,
                             "dims": ds.dims})
    return {"label": label, "method": method, "options": options, "task": task, "ds": ds, "ds_in": ds_in,
            "model": model, "path": path}


def _batcher(f) -> GroupBatcher:
    return GroupBatcher(f["ds_in"], np.arange(len(f["ds_in"])), batch_size=64)


@torch.no_grad()
def _out(model, batch) -> torch.Tensor:
    return model.predict_output(batch)


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return bool(torch.allclose(a, b, atol=tol, rtol=tol))


def test_padding_invariance(fitted):
    b = _batcher(fitted)
    lengths = (b.groups >= 0).sum(1)
    short = torch.argsort(lengths)[:3]  # three short groups
    longest = int(torch.argmax(lengths))
    rows = b.groups[short]
    for cond in CONDITIONS:
        base = _out(fitted["model"], b.make_batch(rows).with_condition(cond))
        L = base.shape[1]
        pad = torch.cat([rows, torch.full((2, rows.shape[1]), -1, dtype=rows.dtype)])
        padded = _out(fitted["model"], b.make_batch(pad).with_condition(cond))
        assert _close(padded[:3, :L], base), f"{cond}: all-padding groups changed the outputs"
        longer = _out(fitted["model"], b.make_batch(torch.cat([rows, b.groups[longest:longest + 1]])).with_condition(cond))
        assert longer.shape[1] > L
        assert _close(longer[:3, :L], base), f"{cond}: a longer group in the batch changed the outputs"


def test_mask_respect(fitted):
    b = _batcher(fitted)
    batch = b.make_batch(b.groups[:6])
    gen = torch.Generator().manual_seed(0)
    for cond in CONDITIONS[:-1]:
        base = _out(fitted["model"], batch.with_condition(cond))
        noisy = dict(batch.x_full)
        for m in MODALITIES:
            if m not in cond:
                noisy[m] = torch.randn(noisy[m].shape, generator=gen) * 100.0
        other = dataclasses.replace(batch, x=dict(noisy), x_full=noisy)
        assert _close(_out(fitted["model"], other.with_condition(cond)), base), \
            f"{cond}: the values of a missing modality changed the outputs"


def test_group_permutation(fitted):
    b = _batcher(fitted)
    rows = b.groups[:6]
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    for cond in ("atv", "t", "av"):
        base = _out(fitted["model"], b.make_batch(rows).with_condition(cond))
        permuted = _out(fitted["model"], b.make_batch(rows[perm]).with_condition(cond))
        L = base.shape[1]
        assert _close(permuted[:, :L], base[perm]), f"{cond}: permuting groups changed more than the order"


def test_determinism_under_a_seed(fitted):
    if fitted["task"] != "classification":
        pytest.skip("determinism is checked once per method (the classification case)")
    _, _, _, again, _ = _fit(fitted["method"], fitted["options"], fitted["task"])
    ref = fitted["model"].state_dict()
    got = again.state_dict()
    assert ref.keys() == got.keys()
    diff = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not diff, f"weights differ between two fits with one seed: {diff[:3]}"


def _inputs(ds, subset: str, scale: float = 1.0) -> dict:
    return {MODALITY_NAMES[m]: (ds.features[m] * scale if m in subset else None) for m in MODALITIES}


@torch.no_grad()
def _in_memory(f, cond: str) -> np.ndarray:
    """The in-memory model's outputs in dataset order under ``cond`` (groups as the predictor forms them)."""
    ds_in = f["ds_in"]
    out = np.zeros((len(ds_in), ds_in.output_dim) if f["task"] == "classification" else (len(ds_in),), np.float32)
    for batch in GroupBatcher(ds_in, np.arange(len(ds_in)), batch_size=16):
        b = batch.with_condition(cond)
        out[b.idx[b.valid].numpy()] = f["model"].predict_output(b)[b.valid].numpy()
    return out


def test_checkpoint_round_trip_and_every_subset(fitted):
    ds = fitted["ds"]
    model = hardymer.load(fitted["path"])
    for k in range(1, 4):
        for subset in ("".join(c) for c in itertools.combinations(MODALITIES, k)):
            res = model.predict(**_inputs(ds, subset), groups=ds.groups, order=ds.order)
            got = res.probs if fitted["task"] == "classification" else res.scores
            assert got is not None and np.isfinite(got).all()
            assert set(res.modalities) == {subset}
            np.testing.assert_allclose(got, _in_memory(fitted, subset), atol=1e-6, rtol=0,
                                       err_msg=f"{subset}: loaded checkpoint differs from the in-memory model")
            if fitted["task"] == "classification":
                np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


def test_finite_on_extreme_inputs(fitted):
    ds = fitted["ds"]
    model = hardymer.load(fitted["path"])
    for subset in ("atv", "a", "tv"):
        res = model.predict(**_inputs(ds, subset, scale=1e4), groups=ds.groups, order=ds.order)
        got = res.probs if fitted["task"] == "classification" else res.scores
        assert np.isfinite(got).all(), f"{subset}: non-finite outputs on 1e4-scaled features"


def test_every_method_and_preset_is_covered():
    labels = {c[0] for c in CASES}
    assert set(list_methods()) <= labels and set(load_presets()) <= labels
