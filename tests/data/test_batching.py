"""group_index, GroupBatcher / Batch masking, Standardizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardymer.data import GroupBatcher, MultimodalDataset, Split, Standardizer, group_index
from hardymer.data.loaders.synthetic import make_synthetic


def _toy() -> MultimodalDataset:
    """Two groups, utterances stored out of order; order values need not be contiguous."""
    groups = np.array(["g2", "g1", "g2", "g1", "g2", "g1"])
    order = np.array([5, 2, 1, 0, 3, 7])
    n = len(groups)
    feats = {m: np.arange(n * d, dtype=np.float32).reshape(n, d) + 1 for m, d in (("a", 2), ("t", 3), ("v", 1))}
    avail = np.ones((n, 3), dtype=bool)
    avail[0, 2] = False
    return MultimodalDataset(
        name="toy",
        task="regression",
        features=feats,
        available=avail,
        labels=np.linspace(-1, 1, n).astype(np.float32),
        groups=groups,
        order=order,
        utt_ids=np.array([f"u{i}" for i in range(n)]),
        folds=[Split("f", np.arange(n), np.array([], dtype=np.int64), np.array([], dtype=np.int64))],
    )


@pytest.fixture(scope="module")
def ds() -> MultimodalDataset:
    return make_synthetic(size="tiny", seed=1, missing_rate=0.3)


def _coverage(rows) -> np.ndarray:
    flat = np.concatenate([np.asarray(r).ravel() for r in rows])
    return np.sort(flat[flat >= 0])


def test_group_index_toy() -> None:
    toy = _toy()
    gi = group_index(toy, np.arange(len(toy)))
    # groups sorted by id (g1, g2); inside a group by order; -1 pads the shorter row
    assert gi.tolist() == [[3, 1, 5], [2, 4, 0]]
    gi = group_index(toy, np.array([0, 1, 2, 4]))
    assert gi.tolist() == [[1, -1, -1], [2, 4, 0]]
    assert group_index(toy, np.array([], dtype=np.int64)).shape == (0, 0)


def test_group_index_synthetic(ds: MultimodalDataset) -> None:
    idx = np.random.default_rng(0).permutation(ds.folds[0].train)
    gi = group_index(ds, idx)
    assert gi.dtype == np.int64
    assert np.array_equal(_coverage(gi), np.sort(idx))
    assert len(gi) == len(np.unique(ds.groups[idx]))
    for row in gi:
        valid = row >= 0
        k = int(valid.sum())
        assert valid[:k].all() and not valid[k:].any(), "padding must be at the end"
        r = row[:k]
        assert len(set(ds.groups[r].tolist())) == 1
        assert (np.diff(ds.order[r]) > 0).all()


@pytest.mark.parametrize("shuffle", [False, True])
def test_batcher_covers_every_utterance_once(ds: MultimodalDataset, shuffle: bool) -> None:
    idx = ds.folds[0].train
    b = GroupBatcher(ds, idx, batch_size=3, shuffle=shuffle, seed=2)
    batches = list(b)
    assert len(batches) == len(b) == -(-len(np.unique(ds.groups[idx])) // 3)
    assert b.num_utterances == len(idx)
    assert np.array_equal(_coverage([bt.idx.numpy() for bt in batches]), np.sort(idx))
    if shuffle:  # reshuffled each epoch, deterministically from the seed
        first = [bt.idx[:, 0].tolist() for bt in batches]
        second = [bt.idx[:, 0].tolist() for bt in b]
        again = [bt.idx[:, 0].tolist() for bt in GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=2)]
        assert first == again and first != second


def test_batch_contents_and_valid_mask(ds: MultimodalDataset) -> None:
    b = GroupBatcher(ds, ds.folds[0].test, batch_size=4)
    for bt in b:
        B, L = bt.valid.shape
        assert bt.idx.shape == bt.y.shape == (B, L) and bt.avail.shape == (B, L, 3)
        assert torch.equal(bt.valid, bt.idx >= 0)
        assert bt.valid.any(1).all() and bt.valid.sum(1).max() == L  # no all-padding column
        idx = bt.idx[bt.valid].numpy()
        for m in "atv":
            assert bt.x_full[m].shape == (B, L, ds.dims[m]) and bt.x_full[m].dtype == torch.float32
            np.testing.assert_array_equal(bt.x_full[m][bt.valid].numpy(), ds.features[m][idx])
            assert (bt.x_full[m][~bt.valid] == 0).all()
        np.testing.assert_array_equal(bt.y[bt.valid].numpy(), ds.labels[idx])
        np.testing.assert_array_equal(bt.avail_full[bt.valid].numpy(), ds.available[idx])
        assert not bt.avail_full[~bt.valid].any()


@pytest.mark.parametrize("cond", ["a", "t", "v", "at", "va", "tv", "atv"])
def test_with_condition_zeroes_unavailable(ds: MultimodalDataset, cond: str) -> None:
    b = GroupBatcher(ds, np.arange(len(ds)), batch_size=8)
    for bt in b:
        c = bt.with_condition(cond)
        for j, m in enumerate("atv"):
            keep = c.avail[..., j]
            expected = bt.avail_full[..., j] & bt.valid & (m in cond)
            assert torch.equal(keep, expected)
            assert (c.x[m][~keep] == 0).all()
            assert torch.equal(c.x[m][keep], bt.x_full[m][keep])
            assert torch.equal(c.x_full[m], bt.x_full[m])  # targets untouched
        assert torch.equal(c.valid, bt.valid) and torch.equal(c.idx, bt.idx)


def test_with_availability_per_utterance(ds: MultimodalDataset) -> None:
    bt = next(iter(GroupBatcher(ds, np.arange(len(ds)), batch_size=8)))
    mask = torch.zeros_like(bt.avail_full)
    mask[:, ::2, 1] = True
    c = bt.with_availability(mask)
    assert torch.equal(c.avail, mask & bt.avail_full & bt.valid.unsqueeze(-1))
    assert (c.x["a"] == 0).all() and (c.x["v"] == 0).all()
    assert (c.x["t"][:, 1::2] == 0).all()
    moved = c.to("cpu")
    assert torch.equal(moved.x["t"], c.x["t"])


def test_max_len_chunking(ds: MultimodalDataset) -> None:
    idx = ds.folds[0].train
    full = group_index(ds, idx)
    assert full.shape[1] > 3
    b = GroupBatcher(ds, idx, batch_size=5, max_len=3)
    assert b.groups.shape[1] == 3
    assert np.array_equal(_coverage([bt.idx.numpy() for bt in b]), np.sort(idx))
    # chunks are consecutive pieces of each group, in order
    rows = b.groups.numpy()
    rebuilt = {}
    for r in rows:
        r = r[r >= 0]
        assert len(set(ds.groups[r].tolist())) == 1
        rebuilt.setdefault(ds.groups[r[0]], []).extend(r.tolist())
    for row in full:
        row = row[row >= 0]
        assert rebuilt[ds.groups[row[0]]] == row.tolist()
    # max_len above the longest group changes nothing
    assert torch.equal(GroupBatcher(ds, idx, max_len=full.shape[1]).groups, torch.as_tensor(full))


def test_standardizer_fit_on_train_only(ds: MultimodalDataset) -> None:
    fold = ds.folds[0]
    st = Standardizer.fit(ds, fold.train)
    out = st.transform(ds)
    assert out is not ds and len(out) == len(ds)
    for j, m in enumerate("atv"):
        tr = fold.train[ds.available[fold.train, j]]
        x = ds.features[m][tr].astype(np.float64)
        np.testing.assert_allclose(st.mean[m], x.mean(0), rtol=1e-5, atol=1e-5)
        z = out.features[m][tr]
        np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
        # statistics come from train rows only: test rows are not centred exactly
        te = fold.test[ds.available[fold.test, j]]
        assert np.abs(out.features[m][te].mean(0)).max() > 1e-3
        # missing rows stay exactly 0; original is untouched
        miss = ~ds.available[:, j]
        assert miss.any() and (out.features[m][miss] == 0).all()
        assert out.features[m].dtype == np.float32
    assert not np.array_equal(out.features["t"], ds.features["t"])
    # the test part alone gives different statistics
    other = Standardizer.fit(ds, fold.test)
    assert not np.allclose(other.mean["t"], st.mean["t"])


def test_standardizer_state_roundtrip_and_empty_modality(ds: MultimodalDataset) -> None:
    st = Standardizer.fit(ds, ds.folds[0].train)
    back = Standardizer.from_state_dict(st.state_dict())
    for m in "atv":
        np.testing.assert_array_equal(back.mean[m], st.mean[m])
        np.testing.assert_array_equal(back.std[m], st.std[m])
    toy = _toy()
    st = Standardizer.fit(toy, np.array([0]))  # the only training row lacks video
    assert (st.mean["v"] == 0).all() and (st.std["v"] == 1).all()
    assert (st.std["a"] > 0).all()  # constant features: eps, no division by zero
    assert np.isfinite(st.transform(toy).features["a"]).all()


# ---------------------------------------------------------------------------- length buckets
def _epoch_rows(b: GroupBatcher) -> list[list[int]]:
    return [sorted(int(i) for i in bt.idx[:, 0].tolist()) for bt in b]


@pytest.mark.parametrize("bucket_batches", [1, 2])
def test_bucketed_epochs_cover_every_group_once_and_are_seeded(ds: MultimodalDataset, bucket_batches: int) -> None:
    idx = ds.folds[0].train
    b = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=5, bucket=True, bucket_batches=bucket_batches)
    epochs = [list(b) for _ in range(3)]
    for batches in epochs:
        assert len(batches) == len(b)
        assert np.array_equal(_coverage([bt.idx.numpy() for bt in batches]), np.sort(idx))
        firsts = [int(r) for bt in batches for r in bt.idx[:, 0].tolist()]
        assert len(firsts) == len(set(firsts)) == len(b.groups)  # each group exactly once
    again = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=5, bucket=True, bucket_batches=bucket_batches)
    assert [[bt.idx.tolist() for bt in again] for _ in range(3)] == [[bt.idx.tolist() for bt in e] for e in epochs]
    other = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=6, bucket=True, bucket_batches=bucket_batches)
    assert [bt.idx.tolist() for bt in other] != [bt.idx.tolist() for bt in epochs[0]]


def test_bucketed_batches_pad_only_to_their_bucket(ds: MultimodalDataset) -> None:
    idx = ds.folds[0].train
    for bb in (1, 2):
        b = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=1, bucket=True, bucket_batches=bb)
        lengths = np.sort(b.lengths.numpy())
        width = 3 * bb
        buckets = [
            (int(lengths[s]), int(lengths[min(s + width, len(lengths)) - 1])) for s in range(0, len(lengths), width)
        ]
        for _ in range(2):
            seen = []
            for bt in b:
                n = bt.valid.sum(1).numpy()
                assert bt.valid.shape[1] == n.max()  # padded to the batch's own longest group
                # all of the batch's groups fit in one bucket of the length-sorted list
                assert any(lo <= n.min() and n.max() <= hi for lo, hi in buckets), (n, buckets)
                seen.extend(n.tolist())
            assert sorted(seen) == lengths.tolist()
        if bb == 1:  # one batch per bucket: batches are runs of consecutive sorted lengths
            runs = sorted((sorted(bt.valid.sum(1).tolist()) for bt in b), key=lambda r: (r[0], r[-1]))
            flat = [x for r in runs for x in r]
            assert flat == sorted(flat)


def test_equal_length_groups_are_not_padded() -> None:
    sizes = [3] * 8 + [1] * 4
    groups = np.array([f"g{g}" for g, k in enumerate(sizes) for _ in range(k)])
    m = len(groups)
    feats = {k: np.ones((m, 2), np.float32) for k in "atv"}
    toy = MultimodalDataset(
        name="eq",
        task="regression",
        features=feats,
        available=np.ones((m, 3), bool),
        labels=np.zeros(m, np.float32),
        groups=groups,
        order=np.arange(m),
        utt_ids=np.array([f"u{i}" for i in range(m)]),
        folds=[Split("f", np.arange(m), np.array([], dtype=np.int64), np.array([], dtype=np.int64))],
    )
    b = GroupBatcher(toy, np.arange(m), batch_size=4, shuffle=True, seed=0, bucket=True)
    plain = GroupBatcher(toy, np.arange(m), batch_size=4, shuffle=True, seed=0)
    for _ in range(3):
        for bt in b:
            assert not (~bt.valid).any(), "same-length groups pad to nothing"
        assert b.last_epoch_padded == 0
        list(plain)
    assert plain.padded_positions > 0


def test_padding_is_counted(ds: MultimodalDataset) -> None:
    idx = ds.folds[0].train
    for bucket in (False, True):
        b = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=3, bucket=bucket)
        counts = []
        for _ in range(4):
            counts.append(sum(int((~bt.valid).sum()) for bt in b))
            assert b.last_epoch_padded == counts[-1]
        st = b.padding_stats()
        assert st["epochs"] == 4 and st["utterances"] == len(idx) and st["bucket"] == bucket
        assert st["padded_per_epoch"] == pytest.approx(np.mean(counts))
    plain = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=3)
    buck = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=3, bucket=True)
    for _ in range(5):
        list(plain), list(buck)
    assert buck.padding_stats()["padded_per_epoch"] <= plain.padding_stats()["padded_per_epoch"]


def test_bucket_off_and_no_shuffle_keep_the_plain_order(ds: MultimodalDataset) -> None:
    idx = ds.folds[0].train
    # unshuffled: bucketing has no effect (evaluation order is fixed)
    a = [bt.idx.tolist() for bt in GroupBatcher(ds, idx, batch_size=3, bucket=True)]
    assert a == [bt.idx.tolist() for bt in GroupBatcher(ds, idx, batch_size=3)]
    # bucket off: exactly one uniform permutation of the groups per epoch from the seed
    b = GroupBatcher(ds, idx, batch_size=3, shuffle=True, seed=4)
    gen = torch.Generator().manual_seed(4)
    for _ in range(2):
        order = torch.randperm(len(b.groups), generator=gen)
        expect = [b.groups[order[s : s + 3]] for s in range(0, len(order), 3)]
        got = list(b)
        for e, bt in zip(expect, got):
            L = bt.valid.shape[1]
            assert torch.equal(bt.idx, e[:, :L])
    with pytest.raises(ValueError, match="bucket_batches"):
        GroupBatcher(ds, idx, bucket=True, bucket_batches=0)


def test_batchers_share_the_feature_arrays(ds: MultimodalDataset) -> None:
    b1 = GroupBatcher(ds, ds.folds[0].train)
    b2 = GroupBatcher(ds, ds.folds[0].test)
    for m in "atv":
        assert b1.feats[m].data_ptr() == b2.feats[m].data_ptr() == torch.as_tensor(ds.features[m]).data_ptr()
