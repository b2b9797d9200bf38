import json
import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import hardymer.training.trainer as trainer_mod
from hardymer.conditions import MODALITIES
from hardymer.config import TrainConfig, load_config
from hardymer.data import Standardizer, create_dataset
from hardymer.data.protocol import FixedCondition, RandomConditions
from hardymer.hardness.combine import combine, neighbour_counts, to_hardness
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import MethodSpec, create_method, curriculum
from hardymer.models.backbone import Backbone
from hardymer.models.context import FitContext
from hardymer.models.hardymer import Hardymer
from hardymer.training.run import run_experiment
from hardymer.training.teacher import load_or_fit_teacher

SMALL = dict(hidden=32, depth=1, decoder_hidden=64, critic_epochs=3)
SEED = 0


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=SEED)


def _cfg(out, condition="a", cache=None, epochs=4, protocol="fixed", **opt):
    return load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": SEED}},
            "method": {"name": "hardymer", "options": {**SMALL, **opt}},
            "condition": condition,
            "protocol": protocol,
            "cache_dir": str(cache) if cache else None,
            "train": {"epochs": epochs, "patience": 0},
            "out": str(out),
        }
    )


class _Capture:
    """Records every Hardymer after ``prepare`` with a copy of its teacher's state at that point."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.methods: list = []
        self.teacher_states: list = []
        orig = Hardymer.prepare
        cap = self

        def prepare(self, ctx):
            orig(self, ctx)
            cap.methods.append(self)
            t = self.teacher
            cap.teacher_states.append(None if t is None else {k: v.clone() for k, v in t.state_dict().items()})

        mp.setattr(Hardymer, "prepare", prepare)


def _rows(out):
    return json.loads((out / "hardness.json").read_text())


@pytest.fixture(scope="module")
def main_run(tmp_path_factory, ds):
    """One end-to-end run (fixed protocol, condition 'a', no cache); the fitted method is kept."""
    out = tmp_path_factory.mktemp("hm") / "run"
    with pytest.MonkeyPatch.context() as mp:
        cap = _Capture(mp)
        metrics = run_experiment(_cfg(out), ds=ds)
    assert len(cap.methods) == 1
    return {"out": out, "metrics": metrics, "method": cap.methods[0], "teacher_state": cap.teacher_states[0]}


# ------------------------------------------------------------------ end to end
def test_run_writes_hardness_files(main_run, ds):
    out, K = main_run["out"], 3
    train = ds.folds[0].train
    train_ids = set(ds.utt_ids[train].tolist())
    rows = _rows(out)
    assert len(rows) == len(train)
    assert {r["utt_id"] for r in rows} == train_ids
    for r in rows:
        assert r["condition"] == "a"
        assert 1 <= r["k"] <= K and 0.0 <= r["h"] <= 1.0
        assert len(r["neighbours"]) == K
        assert set(r["neighbours"]) <= train_ids  # val/test utterances are never neighbours
        assert r["utt_id"] not in r["neighbours"]
    # h, s, k follow the documented rules (rank mapping over the training set)
    dh = np.array([r["dh"] for r in rows])
    ih = np.array([r["ih"] for r in rows])
    s = np.array([r["s"] for r in rows])
    h = np.array([r["h"] for r in rows])
    assert dh.min() >= 0 and dh.std() > 0 and ih.std() > 0
    np.testing.assert_allclose(s, combine(dh, ih, 0.6, 0.4), atol=1e-9)
    np.testing.assert_allclose(h, to_hardness(s, "rank"), atol=1e-12)
    np.testing.assert_array_equal([r["k"] for r in rows], neighbour_counts(h, K))
    summary = json.loads((out / "hardness_summary.json").read_text())
    c = summary["conditions"]["a"]
    assert summary["K"] == K and set(summary["conditions"]) == {"a"}
    assert sum(c["k_hist"].values()) == len(train) and set(c["k_hist"]) == {"1", "2", "3"}
    assert min(c["k_hist"].values()) >= len(train) // 3 - 1  # rank mapping: uniform k
    for key in ("label_agreement_used", "label_agreement_topK"):
        assert 0.0 <= c[key] <= 1.0
    assert c["hardness_min"] == 0.0 and c["hardness_max"] == 1.0


def test_views_installed_for_training_rows_only(main_run, ds):
    m, K = main_run["method"], 3
    fold = ds.folds[0]
    views = m.views.numpy()
    assert views.shape == (1, len(ds), K + 1)
    for part in (fold.val, fold.test):
        np.testing.assert_array_equal(views[0, part], np.repeat(part[:, None], K + 1, 1))
    used = views[0, fold.train]
    assert np.isin(used, fold.train).all()
    id_of = {u: i for i, u in enumerate(ds.utt_ids)}
    for r, i in zip(_rows(main_run["out"]), fold.train):
        k = r["k"]
        nb = [id_of[u] for u in r["neighbours"]]
        assert views[0, i].tolist() == [i] * (K + 1 - k) + nb[:k]


def test_checkpoint_reproduces_reported_metrics(main_run):
    ckpt = main_run["out"] / "checkpoint.pt"
    for split in ("val", "test"):
        res = evaluate_checkpoint(ckpt, ["a"], split=split)
        for k, v in main_run["metrics"][split].items():
            assert res["a"][k] == pytest.approx(v, abs=1e-6)


def test_teacher_is_frozen_and_not_part_of_the_student(main_run):
    m = main_run["method"]
    teacher = m.teacher
    assert isinstance(teacher, Backbone) and not isinstance(teacher, Hardymer)
    assert main_run["teacher_state"] is not None
    # unchanged by student training
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, main_run["teacher_state"][k]), k
    assert not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
    # not a submodule: not saved with the student, not optimised with it
    assert "_teacher" not in m._modules and all(name != "_teacher" for name, _ in m.named_children())
    student_keys = set(m.state_dict())
    assert student_keys == set(Backbone(m.spec, m.teacher_config()).state_dict())
    assert not any("teacher" in k for k in student_keys)
    student_params = {id(p) for p in m.parameters()}
    assert not any(id(p) in student_params for p in teacher.parameters())
    ckpt = torch.load(main_run["out"] / "checkpoint.pt", weights_only=True)
    assert set(ckpt["state_dict"]) == student_keys
    # the teacher is a different network from the student (trained separately)
    assert any(not torch.equal(teacher.state_dict()[k], m.state_dict()[k]) for k in student_keys)


def test_cache_reuses_teacher_and_hardness(tmp_path, ds, monkeypatch):
    cache = tmp_path / "cache"
    teacher_fits = []
    orig_fit = trainer_mod.fit

    def counting_fit(method, ctx, progress=False):
        teacher_fits.append(type(method).__name__)
        return orig_fit(method, ctx, progress)

    monkeypatch.setattr(trainer_mod, "fit", counting_fit)  # the teacher is fitted through the module attribute
    cap = _Capture(monkeypatch)
    m1 = run_experiment(_cfg(tmp_path / "r1", cache=cache), ds=ds)
    assert teacher_fits == ["Backbone"]
    assert len(list(cache.glob("teacher-*.pt"))) == 1
    assert len(list(cache.glob("hardness-*.npz"))) == 1
    m2 = run_experiment(_cfg(tmp_path / "r2", cache=cache), ds=ds)
    assert teacher_fits == ["Backbone"]  # nothing trained again
    assert cap.methods[1].teacher is None  # hardness came from the cache
    assert _rows(tmp_path / "r2") == _rows(tmp_path / "r1")
    s1 = json.loads((tmp_path / "r1" / "hardness_summary.json").read_text())
    assert json.loads((tmp_path / "r2" / "hardness_summary.json").read_text()) == s1
    # the student does not depend on whether MHE/RDCL came from the cache
    assert m2["val"] == m1["val"] and m2["test"] == m1["test"] and m2["best_epoch"] == m1["best_epoch"]
    # another K: new hardness, same teacher (loaded, not retrained)
    run_experiment(_cfg(tmp_path / "r3", cache=cache, K=2), ds=ds)
    assert teacher_fits == ["Backbone"]
    assert len(list(cache.glob("hardness-*.npz"))) == 2 and len(list(cache.glob("teacher-*.pt"))) == 1
    assert cap.methods[2].teacher is not None
    for k, v in cap.methods[2].teacher.state_dict().items():
        assert torch.equal(v, cap.teacher_states[0][k])
    assert all(1 <= r["k"] <= 2 and len(r["neighbours"]) == 2 for r in _rows(tmp_path / "r3"))
    # another training config (teacher epochs follow the student's): both recomputed
    run_experiment(_cfg(tmp_path / "r4", cache=cache, epochs=2), ds=ds)
    assert teacher_fits == ["Backbone", "Backbone"]
    assert len(list(cache.glob("teacher-*.pt"))) == 2


def test_no_cache_runs_are_reproducible(tmp_path, ds):
    a = run_experiment(_cfg(tmp_path / "a", epochs=2), ds=ds)
    b = run_experiment(_cfg(tmp_path / "b", epochs=2), ds=ds)
    assert a["test"] == b["test"] and _rows(tmp_path / "a") == _rows(tmp_path / "b")


def test_unified_student_does_not_depend_on_the_cache(tmp_path, ds):
    # the teacher draws its conditions from a copy of the student's sampler, its dropout from its own stream
    cache = tmp_path / "cache"
    computed = run_experiment(_cfg(tmp_path / "r1", cache=cache, epochs=2, protocol="unified"), ds=ds)
    loaded = run_experiment(_cfg(tmp_path / "r2", cache=cache, epochs=2, protocol="unified"), ds=ds)
    assert not computed["stage1_shared"] and loaded["stage1_shared"]  # hardness and stage 1 from the cache
    assert loaded["val"] == computed["val"] and loaded["test"] == computed["test"]
    assert _rows(tmp_path / "r2") == _rows(tmp_path / "r1")


def test_teacher_leaves_the_callers_generators_alone(ds):
    std = Standardizer.fit(ds, ds.folds[0].train)
    dsi = std.transform(ds)
    tc = OmegaConf.structured(TrainConfig(epochs=2, patience=0, batch_size=6))
    sampler = RandomConditions(seed=0)
    ctx = FitContext(ds=dsi, fold=dsi.folds[0], conditions=sampler, train=tc, seed=0, device=torch.device("cpu"))
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    cfg = create_method("hardymer", spec, **SMALL).teacher_config()
    torch.manual_seed(5)
    expected_init = Backbone(spec, cfg).state_dict()  # what the caller's stream draws next
    torch.manual_seed(5)
    before, sampler_before = torch.get_rng_state(), sampler.gen.get_state()
    teacher = load_or_fit_teacher(spec, cfg, ctx)
    assert torch.equal(torch.get_rng_state(), before) and torch.equal(sampler.gen.get_state(), sampler_before)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    # trained from the caller's next draws: its weights moved away from them, and it is reproducible
    assert any(not torch.equal(v, expected_init[k]) for k, v in teacher.state_dict().items())
    torch.manual_seed(5)
    again = load_or_fit_teacher(spec, cfg, ctx)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in teacher.state_dict().items())


# ------------------------------------------------------------------ stacked views
@pytest.fixture(scope="module")
def prepared(ds):
    std = Standardizer.fit(ds, ds.folds[0].train)
    dsi = std.transform(ds)
    tc = OmegaConf.structured(TrainConfig(epochs=2, patience=0, batch_size=6))
    ctx = FitContext(
        ds=dsi,
        fold=dsi.folds[0],
        conditions=FixedCondition("a"),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    torch.manual_seed(0)
    m = create_method("hardymer", MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), **SMALL)
    m.prepare(ctx)
    return m, ctx


def _first_batch(ctx):
    return next(iter(ctx.batcher("train", batch_size=6)))


def test_view_batch_stacks_views(prepared):
    m, ctx = prepared
    K = m.config.K
    batch = _first_batch(ctx)
    B, L = batch.valid.shape
    sb = m.view_batch(batch, torch.zeros(B, dtype=torch.long), ctx.conditions.masks)
    assert sb.valid.shape == ((K + 1) * B, L)
    feats = {mod: torch.as_tensor(ctx.ds.features[mod]) for mod in MODALITIES}
    for j in range(K + 1):
        rows = slice(j * B, (j + 1) * B)
        v = sb.idx[rows]
        assert torch.equal(sb.valid[rows], batch.valid)
        # every view carries the anchor's label
        assert torch.equal(sb.y[rows][batch.valid], batch.y[batch.valid])
        # the j-th view of each utterance is views[cond, i, j]
        want = m.views[0, batch.idx[batch.valid], j]
        assert torch.equal(v[batch.valid], want)
        assert (v[~batch.valid] == -1).all()
    ok = sb.valid
    # neighbours bring their own complete features
    for mod in MODALITIES:
        assert torch.equal(sb.x_full[mod][ok], feats[mod][sb.idx[ok]])
        assert (sb.x_full[mod][~ok] == 0).all()
    # the anchor's condition mask applies to every view: only audio is visible
    assert (sb.x["t"] == 0).all() and (sb.x["v"] == 0).all() and not sb.avail[..., 1:].any()
    assert torch.equal(sb.x["a"][ok], feats["a"][sb.idx[ok]])
    assert torch.equal(sb.avail[..., 0], sb.avail_full[..., 0] & ok)
    # at least some views really are neighbours (not the anchor), and they differ from the anchor
    anchor_idx = batch.idx.repeat(K + 1, 1)
    nb = ok & (sb.idx != anchor_idx)
    assert nb.any()
    assert not torch.equal(sb.x_full["a"][nb], feats["a"][anchor_idx[nb]])
    # the stacked batch trains like any other
    loss = m.stage2_loss(sb)
    assert torch.isfinite(loss)


def test_view_batch_masks_per_group_condition(prepared, ds):
    m, ctx = prepared
    batch = _first_batch(ctx)
    B = batch.valid.shape[0]
    K = m.config.K
    masks = torch.tensor([[True, False, False], [False, True, True]])
    cond_ids = torch.arange(B) % 2
    views_backup = m.views
    m.views = torch.cat([m.views, m.views])  # two condition slots sharing the same views
    try:
        sb = m.view_batch(batch, cond_ids, masks)
    finally:
        m.views = views_backup
    for j in range(K + 1):
        for g in range(B):
            r = j * B + g
            want = masks[cond_ids[g]]
            ok = sb.valid[r]
            assert torch.equal(sb.avail[r][ok], want.expand(int(ok.sum()), 3) & sb.avail_full[r][ok])


def _neighbour_slots(sb, batch, K):
    anchor = batch.idx.repeat(K + 1, 1)
    B = batch.valid.shape[0]
    is_nb = (sb.idx != anchor) & sb.valid
    return is_nb.view(K + 1, B, -1).permute(1, 2, 0), sb.idx.view(K + 1, B, -1).permute(1, 2, 0)  # [B, L, K+1]


def test_pacing_reverts_neighbours_to_anchor(prepared):
    m, ctx = prepared
    K = m.config.K
    batch = _first_batch(ctx)
    B = batch.valid.shape[0]
    ids, masks = torch.zeros(B, dtype=torch.long), ctx.conditions.masks
    full_nb, full_v = _neighbour_slots(m.view_batch(batch, ids, masks, 1.0), batch, K)
    k_i = full_nb.sum(-1)
    assert (k_i >= 1)[batch.valid].all()
    # share 0: every view is the anchor
    nb0, _ = _neighbour_slots(m.view_batch(batch, ids, masks, 0.0), batch, K)
    assert not nb0.any()
    # a tiny share keeps at most one neighbour: the nearest one (n_1)
    small_nb, small_v = _neighbour_slots(m.view_batch(batch, ids, masks, 1e-6), batch, K)
    assert (small_nb.sum(-1) == (k_i > 0).long()).all()
    first_nb = torch.gather(full_v, -1, (K + 1 - k_i).clamp(max=K).unsqueeze(-1)).squeeze(-1)
    kept = torch.where(small_nb, small_v, torch.zeros_like(small_v)).sum(-1)
    assert torch.equal(kept[k_i > 0], first_nb[k_i > 0])
    # share in between: ceil(k * share) neighbours, the nearest ones
    half_nb, half_v = _neighbour_slots(m.view_batch(batch, ids, masks, 0.5), batch, K)
    assert torch.equal(half_nb.sum(-1), torch.ceil(k_i.float() * 0.5).long())
    for b, t in zip(*torch.nonzero(batch.valid, as_tuple=True)):
        k = int(k_i[b, t])
        kept = [int(x) for x in half_v[b, t][half_nb[b, t]]]
        assert kept == [int(x) for x in full_v[b, t, K + 1 - k :]][: math.ceil(k * 0.5)]
    # share 1 is the unpaced batch
    assert torch.equal(m.view_batch(batch, ids, masks, 1.0).idx, m.view_batch(batch, ids, masks).idx)


def test_linear_pacing_share_grows_over_stage2(prepared, monkeypatch):
    m, ctx = prepared
    shares = []
    orig = Hardymer.view_batch
    monkeypatch.setattr(m, "view_batch", lambda b, c, mk, share=1.0: shares.append(share) or orig(m, b, c, mk, share))
    monkeypatch.setattr(m.config, "pacing", "linear")
    batch = _first_batch(ctx)
    tc = OmegaConf.structured(TrainConfig(epochs=6, patience=0))
    ctx6 = FitContext(
        ds=ctx.ds,
        fold=ctx.fold,
        conditions=ctx.conditions,
        train=tc,
        seed=0,
        device=ctx.device,
        teacher_provider=load_or_fit_teacher,
    )
    for epoch in range(6):
        m.training_loss(batch, ctx6, epoch)
    assert shares == pytest.approx([1 / 3, 2 / 3, 1.0])  # stage 1 = epochs 0-2 never builds views


def test_training_loss_uses_views_in_stage2_only(prepared, monkeypatch):
    m, ctx = prepared
    batch = _first_batch(ctx)
    calls = []
    monkeypatch.setattr(m, "stage2_loss", lambda b: calls.append(b.valid.shape[0]) or torch.zeros(()))
    m.training_loss(batch, ctx, 0)  # epochs=2, stage1_fraction .5 -> epoch 0 is stage 1
    assert calls == []
    m.training_loss(batch, ctx, 1)
    assert calls == [(m.config.K + 1) * batch.valid.shape[0]]


# ------------------------------------------------------------------ options
ABLATIONS = [
    {"use_direct": False},
    {"use_indirect": False},
    {"hardness": "fixed"},
    {"hardness": "random"},
    {"neighbours": "none"},
    {"neighbours": "random"},
    {"mi_estimator": "entropy"},
    {"mapping": "release"},
    {"mapping": "centered"},
    {"merge": "concat"},
    {"approximate_index": True},
    {"pacing": "linear"},
    {"K": 1},
]


@pytest.mark.parametrize("opt", ABLATIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_ablations_run_end_to_end(tmp_path, ds, opt):
    out = tmp_path / "run"
    metrics = run_experiment(_cfg(out, condition="at", epochs=2, **opt), ds=ds)
    assert metrics["method"] == "hardymer" and metrics["best_epoch"] == 2  # 1-based: stage 2 is epoch 2
    K = opt.get("K", 3)
    rows = _rows(out)
    train_ids = set(ds.utt_ids[ds.folds[0].train].tolist())
    k = np.array([r["k"] for r in rows])
    h = np.array([r["h"] for r in rows])
    assert k.min() >= 1 and k.max() <= K
    for r in rows:
        assert set(r["neighbours"]) <= train_ids and r["utt_id"] not in r["neighbours"]
    if opt.get("use_direct") is False:
        assert all(r["dh"] == 0 for r in rows) and any(r["ih"] != 0 for r in rows)
    if opt.get("use_indirect") is False:
        assert all(r["ih"] == 0 for r in rows) and any(r["dh"] != 0 for r in rows)
    if opt.get("hardness") == "fixed":
        assert (k == K // 2 + 1).all()
    if opt.get("hardness") == "random":
        assert len(set(k.tolist())) == K
    if opt.get("neighbours") == "none":
        assert all(r["neighbours"] == [] for r in rows)
    else:
        assert all(len(r["neighbours"]) == K for r in rows)
    if opt.get("mi_estimator") == "entropy":
        assert np.std([r["ih"] for r in rows]) > 0
    if opt.get("mapping") == "release":
        assert h.min() >= 0.5 and h.max() <= 1 / (1 + math.exp(-4.0)) + 1e-12
    if "K" in opt:
        assert (k == 1).all()


def test_neighbours_none_makes_all_views_the_anchor(tmp_path, ds):
    with pytest.MonkeyPatch.context() as mp:
        cap = _Capture(mp)
        run_experiment(_cfg(tmp_path / "r", epochs=2, neighbours="none"), ds=ds)
    views = cap.methods[0].views.numpy()
    np.testing.assert_array_equal(views, np.repeat(np.arange(len(ds))[None, :, None], 1, 0).repeat(4, 2))


def test_unified_protocol_prepares_every_condition(tmp_path, ds):
    with pytest.MonkeyPatch.context() as mp:
        cap = _Capture(mp)
        metrics = run_experiment(_cfg(tmp_path / "u", protocol="unified", epochs=2), ds=ds)
    m = cap.methods[0]
    assert m.views.shape == (7, len(ds), 4)
    summary = json.loads((tmp_path / "u" / "hardness_summary.json").read_text())
    assert set(summary["conditions"]) == {"a", "t", "v", "at", "av", "tv", "atv"}
    rows = _rows(tmp_path / "u")
    assert len(rows) == 7 * len(ds.folds[0].train)
    # nothing is missing under atv: no direct or indirect hardness
    assert all(r["dh"] == 0 and r["ih"] == 0 for r in rows if r["condition"] == "atv")
    assert "mean6" in metrics["test"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("mapping", "sigmoid"),
        ("mi_estimator", "mine"),
        ("hardness", "oracle"),
        ("neighbours", "knn"),
        ("merge", "sum"),
        ("pacing", "exp"),
        ("K", 0),
    ],
)
def test_invalid_options_raise(ds, name, value):
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    with pytest.raises(ValueError, match=name):
        create_method("hardymer", spec, **{**SMALL, name: value})


def test_full_condition_trains_no_teacher_or_critics_and_scores_zero(tmp_path, ds, monkeypatch):
    """Under ``atv`` nothing is missing: DH and IH are 0 by definition, so no teacher or critic is
    trained, and the table is the one a trained teacher and critics would give (both exactly 0)."""
    import hardymer.models.curriculum as hm
    from hardymer.hardness.mi import critic_indirect_hardness, pair_pmi

    fits, critic_fits = [], []
    orig_fit, orig_critics = trainer_mod.fit, hm.train_pair_critics

    def counting_fit(method, ctx, progress=False):
        fits.append(type(method).__name__)
        return orig_fit(method, ctx, progress)

    def counting_critics(*a, **kw):
        critic_fits.append(1)
        return orig_critics(*a, **kw)

    monkeypatch.setattr(trainer_mod, "fit", counting_fit)  # the teacher is fitted through the module attribute
    monkeypatch.setattr(hm, "train_pair_critics", counting_critics)
    cap = _Capture(monkeypatch)
    run_experiment(_cfg(tmp_path / "atv", condition="atv"), ds=ds)
    assert fits == [] and critic_fits == []
    rows = _rows(tmp_path / "atv")
    assert rows and all(r["dh"] == 0.0 and r["ih"] == 0.0 for r in rows)
    assert len({r["k"] for r in rows}) == 1
    # what the skipped work would have given: a trained teacher's DH and the critics' IH under atv
    fold = ds.folds[0]
    dsi = Standardizer.fit(ds, fold.train).transform(ds)
    ctx = FitContext(
        ds=dsi,
        fold=fold,
        conditions=FixedCondition("atv"),
        train=TrainConfig(epochs=2, patience=0),
        seed=SEED,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    m = cap.methods[0]
    teacher = m._train_teacher(ctx)
    assert not curriculum.direct_hardness(teacher, ctx, "atv").any()
    train = fold.train
    feats = {k: dsi.features[k][train] for k in MODALITIES}
    critics = orig_critics(feats, epochs=1, seed=SEED)
    assert critics  # pairs were trained
    assert not critic_indirect_hardness(critics, feats, dsi.available[train], "atv", pmi=pair_pmi(critics, feats)).any()
    # a condition with something missing still trains both
    fits.clear()
    critic_fits.clear()
    run_experiment(_cfg(tmp_path / "t", condition="t"), ds=ds)
    assert fits == ["Backbone"] and critic_fits == [1]


def test_view_batch_per_utterance_condition(prepared, ds):
    """The random protocol gives a condition per utterance ([B, L] ids): each utterance's views are
    masked by its own condition, and group ids expanded over L give the per-group result."""
    m, ctx = prepared
    batch = _first_batch(ctx)
    B, L = batch.valid.shape
    K = m.config.K
    masks = torch.tensor([[True, False, False], [False, True, True]])
    per_utt = (torch.arange(B).view(B, 1) + torch.arange(L).view(1, L)) % 2
    views_backup = m.views
    m.views = torch.cat([m.views, m.views])
    try:
        sb = m.view_batch(batch, per_utt, masks)
        group_ids = torch.arange(B) % 2
        same = m.view_batch(batch, group_ids.view(B, 1).expand(B, L), masks)
        ref = m.view_batch(batch, group_ids, masks)
    finally:
        m.views = views_backup
    assert torch.equal(same.avail, ref.avail) and torch.equal(same.idx, ref.idx)
    for j in range(K + 1):
        rows = slice(j * B, (j + 1) * B)
        want = masks[per_utt] & sb.avail_full[rows] & sb.valid[rows].unsqueeze(-1)
        assert torch.equal(sb.avail[rows], want)
