import numpy as np
import pytest
import torch

from hardymer.conditions import MODALITIES, canonical_condition
from hardymer.hardness.mi import (
    PairCritic,
    critic_indirect_hardness,
    entropy_indirect_hardness,
    pointwise_mi,
    train_pair_critics,
)

N, D = 256, 8


def _half_dependent(seed=0):
    """Pair (a, t) strongly dependent on the first half of the rows, independent on the second;
    v independent of both everywhere."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(N, D)).astype(np.float32)
    w = rng.normal(size=(D, D)).astype(np.float32) / np.sqrt(D)
    t = rng.normal(size=(N, D)).astype(np.float32)
    half = N // 2
    t[:half] = a[:half] @ w + 0.05 * rng.normal(size=(half, D)).astype(np.float32)
    v = rng.normal(size=(N, 6)).astype(np.float32)
    return {"a": a, "t": t, "v": v}, half


@pytest.fixture(scope="module")
def trained():
    feats, half = _half_dependent()
    critics = train_pair_critics(feats, epochs=40, batch_size=128, seed=0)
    return feats, half, critics


def test_one_critic_per_unordered_pair(trained):
    _, _, critics = trained
    assert set(critics) == {("a", "t"), ("a", "v"), ("t", "v")}
    for c in critics.values():
        assert isinstance(c, PairCritic) and not c.training


def test_pmi_higher_on_dependent_rows(trained):
    feats, half, critics = trained
    pmi = pointwise_mi(critics[("a", "t")], feats["a"], feats["t"])
    assert pmi.shape == (N,) and np.isfinite(pmi).all()
    dep, ind = pmi[:half], pmi[half:]
    assert dep.mean() > ind.mean() + 0.5
    # most dependent rows score above the median independent row
    assert (dep > np.median(ind)).mean() > 0.9
    # no such contrast for the independent pair (a, v)
    pmi_av = pointwise_mi(critics[("a", "v")], feats["a"], feats["v"])
    assert abs(pmi_av[:half].mean() - pmi_av[half:].mean()) < dep.mean() - ind.mean()


def test_pmi_reference_set_defaults_to_queried_rows(trained):
    feats, _, critics = trained
    c = critics[("a", "t")]
    a = pointwise_mi(c, feats["a"], feats["t"])
    b = pointwise_mi(c, feats["a"], feats["t"], ref_m=feats["a"], ref_n=feats["t"], chunk=50)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # manual formula on a few rows
    with torch.no_grad():
        ea, eb = c.embed(torch.as_tensor(feats["a"]), torch.as_tensor(feats["t"]))
        f = (ea @ eb.T / c.tau).numpy().astype(np.float64)
    for i in (0, 5, N - 1):
        lse_n = np.log(np.mean(np.exp(f[i, :])))
        lse_m = np.log(np.mean(np.exp(f[:, i])))
        assert a[i] == pytest.approx(f[i, i] - 0.5 * (lse_n + lse_m), abs=1e-4)


@pytest.mark.parametrize("condition", ["a", "t", "ta"])
def test_indirect_hardness_lower_when_present_predicts_missing(trained, condition):
    feats, half, critics = trained
    avail = np.ones((N, 3), dtype=bool)
    ih = critic_indirect_hardness(critics, feats, avail, condition)
    assert ih.shape == (N,)
    if canonical_condition(condition) == "at":  # only v missing: independent of everything, no contrast expected
        return
    # a (or t) present and t (or a) missing: IH = -mean PMI is lower where (a, t) are dependent
    assert ih[:half].mean() < ih[half:].mean() - 0.25
    # it is minus the mean over (present, missing) pairs, with the critic key in either order
    present = [m for m in MODALITIES if m in condition]
    missing = [m for m in MODALITIES if m not in condition]
    parts = []
    for m in present:
        for k in missing:
            key = (m, k) if (m, k) in critics else (k, m)
            parts.append(-pointwise_mi(critics[key], feats[key[0]], feats[key[1]]))
    np.testing.assert_allclose(ih, np.mean(parts, axis=0), rtol=1e-5, atol=1e-5)


def test_indirect_hardness_zero_without_missing_modality(trained):
    feats, _, critics = trained
    ih = critic_indirect_hardness(critics, feats, np.ones((N, 3), dtype=bool), "atv")
    assert ih.shape == (N,) and (ih == 0).all()


def test_indirect_hardness_skips_pairs_without_stored_features(trained):
    feats, _, critics = trained
    avail = np.ones((N, 3), dtype=bool)
    avail[0, 1] = False  # row 0: t naturally missing -> only the (a, v) pair counts under 'a'
    avail[1, 1] = avail[1, 2] = False  # row 1: nothing to compare with -> 0
    ih = critic_indirect_hardness(critics, feats, avail, "a")
    pmi_av = pointwise_mi(critics[("a", "v")], feats["a"], feats["v"])
    assert ih[0] == pytest.approx(-pmi_av[0], abs=1e-5)
    assert ih[1] == 0.0


def test_entropy_proxy_shape_and_zero_for_full():
    rng = np.random.default_rng(5)
    enc = {m: rng.normal(size=(30, 16)).astype(np.float32) for m in MODALITIES}
    for c in ("a", "t", "v", "at", "av", "tv"):
        out = entropy_indirect_hardness(enc, c)
        assert out.shape == (30,) and np.isfinite(out).all()
    full = entropy_indirect_hardness(enc, "atv")
    assert full.shape == (30,) and (full == 0).all()

    def ent(z):
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return -(p * np.log(p)).sum(-1)

    # 'at': one pair (a, v) and (t, v) averaged
    want = np.mean([ent(enc[m]) + ent(enc["v"]) - ent(np.concatenate([enc[m], enc["v"]], -1)) for m in "at"], 0)
    np.testing.assert_allclose(entropy_indirect_hardness(enc, "ta"), want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ sampled reference set, critic sample
def test_sampled_reference_pmi_tracks_all_pairs(trained):
    from scipy.stats import pearsonr

    from hardymer.hardness.mi import pair_pmi, reference_rows

    feats, _, critics = trained
    avail = np.ones((N, 3), bool)
    assert reference_rows(N, N) is None and reference_rows(N, None) is None
    for cond in ("a", "t", "at", "v"):
        full = critic_indirect_hardness(critics, feats, avail, cond, ref_size=None)
        # reference set = the whole set: identical
        np.testing.assert_array_equal(critic_indirect_hardness(critics, feats, avail, cond, ref_size=N), full)
        # a sampled reference set of half the rows: nearly the same ranking and values
        sampled = critic_indirect_hardness(critics, feats, avail, cond, ref_size=N // 2, seed=3)
        assert not np.array_equal(sampled, full)
        assert pearsonr(sampled, full)[0] > 0.95
        # precomputed PMI per pair gives the same IH
        pmi = pair_pmi(critics, feats, ref_size=N // 2, seed=3)
        np.testing.assert_array_equal(critic_indirect_hardness(critics, feats, avail, cond, pmi=pmi), sampled)
    ref = reference_rows(N, 100, seed=1)
    assert len(ref) == 100 == len(np.unique(ref)) and np.array_equal(ref, reference_rows(N, 100, seed=1))


def test_pointwise_mi_chunks_do_not_change_values(trained):
    feats, _, critics = trained
    c = critics[("a", "t")]
    whole = pointwise_mi(c, feats["a"], feats["t"], chunk=10_000)
    np.testing.assert_allclose(pointwise_mi(c, feats["a"], feats["t"], chunk=7), whole, rtol=1e-5, atol=1e-5)


def test_critics_train_on_a_seeded_sample_above_max_rows():
    feats, _ = _half_dependent(seed=2)
    a = train_pair_critics(feats, epochs=1, batch_size=64, seed=0, max_rows=100)
    b = train_pair_critics(feats, epochs=1, batch_size=64, seed=0, max_rows=100)
    full = train_pair_critics(feats, epochs=1, batch_size=64, seed=0, max_rows=None)
    same = train_pair_critics(feats, epochs=1, batch_size=64, seed=0, max_rows=N)  # N rows: no sampling
    for key in full:
        for pa, pb, pf, ps in zip(
            a[key].parameters(), b[key].parameters(), full[key].parameters(), same[key].parameters()
        ):
            assert torch.equal(pa, pb) and torch.equal(pf, ps)
        assert not all(torch.equal(x, y) for x, y in zip(a[key].parameters(), full[key].parameters()))


def _old_style_critic(d_m: int, d_n: int) -> torch.nn.Module:
    """A critic with the same layers built by ``nn.Linear``'s own initialisation (global generator)."""
    nn = torch.nn
    mod = nn.Module()
    mod.g_m = nn.Sequential(nn.Linear(d_m, 128), nn.ReLU(), nn.Linear(128, 64))
    mod.g_n = nn.Sequential(nn.Linear(d_n, 128), nn.ReLU(), nn.Linear(128, 64))
    return mod


def test_critic_weights_come_from_the_given_generator():
    # the same values as torch's default initialisation from a generator in the same state, in the same order
    torch.manual_seed(11)
    expected = [_old_style_critic(8, 5).state_dict(), _old_style_critic(5, 6).state_dict()]
    g = torch.Generator().manual_seed(11)
    got = [PairCritic(8, 5, generator=g).state_dict(), PairCritic(5, 6, generator=g).state_dict()]
    for e, o in zip(expected, got):
        assert e.keys() == o.keys() and all(torch.equal(e[k], o[k]) for k in e)
    # without a generator: deterministic, whatever the global generator's state
    torch.manual_seed(1)
    c1 = PairCritic(4, 4).state_dict()
    torch.manual_seed(2)
    assert all(torch.equal(v, PairCritic(4, 4).state_dict()[k]) for k, v in c1.items())


def test_critics_neither_read_nor_move_torchs_global_generator():
    feats, _ = _half_dependent(seed=4)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = train_pair_critics(feats, epochs=2, batch_size=64, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(456)  # another global state: the same critics
    b = train_pair_critics(feats, epochs=2, batch_size=64, seed=5)
    for key in a:
        assert all(torch.equal(x, y) for x, y in zip(a[key].parameters(), b[key].parameters()))
    c = train_pair_critics(feats, epochs=2, batch_size=64, seed=6)
    assert not all(torch.equal(x, y) for x, y in zip(a[("a", "t")].parameters(), c[("a", "t")].parameters()))
