from hardymer.data import GroupBatcher, create_dataset
from hardymer.data.protocol import FixedCondition, RandomConditions, make_condition_sampler


def _batch():
    ds = create_dataset("synthetic", size="tiny", seed=0)
    return next(iter(GroupBatcher(ds, ds.folds[0].train, batch_size=8)))


def test_fixed_condition_masks_every_utterance():
    b = _batch()
    m = FixedCondition("va").sample(b)
    assert m.shape == b.avail_full.shape
    assert m[..., 0].all() and not m[..., 1].any() and m[..., 2].all()
    bb = b.with_availability(m)
    assert (bb.x["t"] == 0).all()


def test_random_conditions_per_group_and_cover_all():
    b = _batch()
    rc = RandomConditions(seed=0)
    seen = set()
    for _ in range(50):
        m = rc.sample(b)
        assert (m == m[:, :1]).all()  # constant within a group
        assert m.any(-1).all()  # never all modalities missing
        seen |= {tuple(r.tolist()) for r in m[:, 0]}
    assert len(seen) == 7


def test_unknown_protocol():
    import pytest

    with pytest.raises(ValueError, match="protocol"):
        make_condition_sampler("weird", "atv", 0)
