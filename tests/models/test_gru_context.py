import json

import numpy as np
import pytest
import torch

import hardymer
from hardymer.catalog.presets import resolve_method
from hardymer.conditions import MODALITIES
from hardymer.config import load_config
from hardymer.data import GroupBatcher, create_dataset
from hardymer.errors import ConfigError, DataError
from hardymer.evaluation.metrics import compute_metrics
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import MethodSpec, create_method, list_methods, method_config, method_info
from hardymer.models.gru_context import GruContext, GruContextConfig
from hardymer.training.checkpoint import load_checkpoint
from hardymer.training.run import run_experiment


def _spec(ds):
    return MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)


def _model(ds, **opt):
    torch.manual_seed(0)
    return create_method("gru-context", _spec(ds), **{"hidden": 16, **opt}).eval()


@pytest.fixture(scope="module")
def missing_ds():
    return create_dataset("synthetic", size="tiny", seed=1, missing_rate=0.3)


def test_registered_with_config_and_metadata():
    assert "gru-context" in list_methods()
    cfg = method_config("gru-context")
    assert cfg == GruContextConfig(hidden=128, dropout=0.3, layers=1, bidirectional=True, regression_loss="l1")
    assert resolve_method("gru-context") == ("gru-context", {})
    info = method_info("gru-context")
    assert "Poria" in info["paper"] and info["protocols"] == ["fixed", "unified", "random"]
    assert all(method_info(m).get("paper") and method_info(m).get("protocols") for m in list_methods())
    with pytest.raises(ConfigError, match="no option 'depth'"):
        method_config("gru-context", depth=2)
    with pytest.raises(ConfigError, match="dropout"):
        create_method(
            "gru-context", MethodSpec(dims={"a": 2, "t": 2, "v": 2}, output_dim=1, task="regression"), dropout=1.5
        )


@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_does_not_change_a_groups_outputs(missing_ds, bidirectional):
    m = _model(missing_ds, bidirectional=bidirectional)
    assert m.stage1_fraction == 0.0
    bt = GroupBatcher(missing_ds, missing_ds.folds[0].train, batch_size=4)
    lengths = (bt.groups >= 0).sum(1)
    short, long_ = int(lengths.argmin()), int(lengths.argmax())
    assert lengths[short] < lengths[long_]
    Ls = int(lengths[short])
    alone = bt.make_batch(bt.groups[[short]])
    padded = bt.make_batch(bt.groups[[long_, short]])
    assert (~padded.valid[1]).any()
    for c in ("atv", "a", "tv"):
        with torch.no_grad():
            oa = m(alone.with_condition(c))
            op = m(padded.with_condition(c))
        torch.testing.assert_close(op[1, :Ls], oa[0], rtol=1e-5, atol=1e-5)
    # extra padded positions beyond the longest group, filled with garbage, change nothing
    pad = 3
    x = {mod: torch.cat([t, torch.full((t.shape[0], pad, t.shape[2]), 9.0)], 1) for mod, t in padded.x.items()}
    ext = type(padded)(
        x=x,
        x_full=x,
        avail=torch.cat([padded.avail, torch.ones(2, pad, 3, dtype=torch.bool)], 1),
        avail_full=torch.cat([padded.avail_full, torch.ones(2, pad, 3, dtype=torch.bool)], 1),
        valid=torch.cat([padded.valid, torch.zeros(2, pad, dtype=torch.bool)], 1),
        y=torch.cat([padded.y, torch.zeros(2, pad, dtype=padded.y.dtype)], 1),
        idx=torch.cat([padded.idx, torch.full((2, pad), -1)], 1),
    )
    with torch.no_grad():
        torch.testing.assert_close(
            m(ext)[:, : padded.valid.shape[1]][padded.valid], m(padded)[padded.valid], rtol=1e-5, atol=1e-5
        )
        # the GRU context is exactly 0 at padding
        ctx = m.context(m.project(ext), ext.valid)
    assert (ctx[~ext.valid] == 0).all()


def test_missing_modality_values_change_no_output(missing_ds):
    m = _model(missing_ds)
    b0 = next(iter(GroupBatcher(missing_ds, missing_ds.folds[0].train, batch_size=6)))
    assert (~b0.avail_full[b0.valid]).any()  # natural missingness is present too
    g = torch.Generator().manual_seed(0)
    for c in ("a", "t", "v", "at", "av", "tv", "atv"):
        b = b0.with_condition(c)
        # garbage in every unavailable (modality, position), passed as the inputs the model sees
        x = {}
        for j, mod in enumerate(MODALITIES):
            off = (~b.avail[..., j]).unsqueeze(-1)
            x[mod] = torch.where(off, 5 * torch.randn(b.x[mod].shape, generator=g), b.x[mod])
        b2 = type(b)(x=x, x_full=x, avail=b.avail, avail_full=b.avail_full, valid=b.valid, y=b.y, idx=b.idx)
        with torch.no_grad():
            torch.testing.assert_close(m(b2)[b.valid], m(b)[b.valid], rtol=0, atol=1e-6)


def test_groups_must_be_left_aligned(missing_ds):
    m = _model(missing_ds)
    b = next(iter(GroupBatcher(missing_ds, missing_ds.folds[0].train, batch_size=2)))
    bad = type(b)(
        x=b.x, x_full=b.x_full, avail=b.avail, avail_full=b.avail_full, valid=b.valid.flip(1), y=b.y, idx=b.idx
    )
    if torch.equal(bad.valid, b.valid):
        pytest.skip("batch has no padding")
    with pytest.raises(DataError, match="left-aligned"):
        m(bad)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fits_a_batch(task):
    ds = create_dataset("synthetic", size="tiny", seed=4, task=task)
    m = _model(ds).train()
    b = next(iter(GroupBatcher(ds, ds.folds[0].train, batch_size=8))).with_condition("at")
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = m.task_loss(m(b), b.y, b.valid)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def _cfg(tmp_path, task, protocol):
    return load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 4, "task": task}},
            "method": {"name": "gru-context", "options": {"hidden": 16}},
            "train": {"epochs": 5, "patience": 0, "num_threads": 1},
            "protocol": protocol,
            "condition": "at",
            "seed": 0,
            "out": str(tmp_path / f"{task}-{protocol}"),
            "cache_dir": None,
        }
    )


@pytest.mark.parametrize("task,protocol", [("classification", "fixed"), ("regression", "unified")])
def test_trains_and_checkpoint_round_trip(tmp_path, task, protocol):
    ds = create_dataset("synthetic", size="tiny", seed=4, task=task)
    cfg = _cfg(tmp_path, task, protocol)
    metrics = run_experiment(cfg, ds=ds)
    out = tmp_path / f"{task}-{protocol}"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["method"] == "gru-context"
    assert saved["environment"]["torch"] == torch.__version__ and saved["environment"]["torch_threads"] == 1
    key = "wa" if task == "classification" else "mae"
    test = metrics["test"] if protocol == "fixed" else metrics["test"]["at"]
    history = json.loads((out / "history.json").read_text())
    assert np.isfinite(test[key]) and len(history) == 5 and all(r["stage"] == 2 for r in history)
    # checkpoint round trip: identical predictions, and evaluate/predict reproduce the metrics
    method, _ = load_checkpoint(out / "checkpoint.pt")
    assert isinstance(method, GruContext) and method.config.hidden == 16
    te = ds.fold(0).test
    model = hardymer.load(out / "checkpoint.pt")
    pred = model.predict(
        audio=ds.features["a"][te], text=ds.features["t"][te], video=None, groups=ds.groups[te], order=ds.order[te]
    )
    again = hardymer.load(out / "checkpoint.pt").predict(
        audio=ds.features["a"][te], text=ds.features["t"][te], video=None, groups=ds.groups[te], order=ds.order[te]
    )
    got = pred.probs if task == "classification" else pred.scores
    np.testing.assert_array_equal(got, again.probs if task == "classification" else again.scores)
    want = evaluate_checkpoint(out / "checkpoint.pt", ["at"], split="test")["at"]
    assert compute_metrics(task, ds.labels[te], got) == pytest.approx(want, abs=1e-5)
    assert want == pytest.approx(test, abs=1e-6)
