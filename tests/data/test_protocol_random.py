"""The random missing-rate protocol's samplers: training masks per step and utterance, and the stored
evaluation masks every method and seed share."""

import numpy as np
import pytest
import torch

from hardymer.conditions import CONDITIONS
from hardymer.data.batching import Batch
from hardymer.data.masks import eval_mask, mask_digest
from hardymer.data.protocol import (
    MaskCondition,
    RandomConditions,
    RandomRate,
    make_condition_sampler,
    stored_mask,
)


def _batch(B: int = 4, L: int = 5, n: int = 40) -> Batch:
    g = torch.Generator().manual_seed(0)
    x = {m: torch.randn(B, L, 2, generator=g) for m in "atv"}
    idx = torch.arange(B * L).view(B, L) % n
    return Batch(
        x=x,
        x_full=x,
        avail=torch.ones(B, L, 3, dtype=torch.bool),
        avail_full=torch.ones(B, L, 3, dtype=torch.bool),
        valid=torch.ones(B, L, dtype=torch.bool),
        y=torch.zeros(B, L),
        idx=idx,
    )


@pytest.mark.parametrize("kind", ["independent", "cpm"])
def test_training_ids_index_the_drawn_patterns(kind):
    s = RandomRate(0.4, kind, seed=3)
    ids = s.sample_utterance_ids(50, 20)
    assert ids.shape == (50, 20) and int(ids.min()) >= 0 and int(ids.max()) < len(CONDITIONS)
    assert list(s.conditions) == list(CONDITIONS)
    masks = s.masks[ids]  # [50, 20, 3]
    assert bool(masks.any(-1).all()), "every utterance keeps at least one modality"
    # the pattern of id j is condition j's mask
    for j, c in enumerate(s.conditions):
        sel = masks[ids == j]
        assert torch.equal(sel, torch.as_tensor(c.mask.copy()).expand_as(sel))
    realised = 1.0 - float(masks.float().mean())
    expected = 0.4 if kind == "cpm" else (3 * 0.4 - 3 * 0.4**3) / (3 * (1 - 0.4**3))  # redraw of empty rows
    assert realised == pytest.approx(expected, abs=0.02)


def test_training_masks_per_utterance_and_step_and_seeded():
    a, b = RandomRate(0.5, "independent", seed=1), RandomRate(0.5, "independent", seed=1)
    first, second = a.sample_utterance_ids(8, 6), a.sample_utterance_ids(8, 6)
    assert torch.equal(first, b.sample_utterance_ids(8, 6))  # same seed, same stream
    assert not torch.equal(first, second)  # a new draw each step
    assert (first != first[:, :1]).any(), "utterances of one group draw their own pattern"
    assert not torch.equal(first, RandomRate(0.5, "independent", seed=2).sample_utterance_ids(8, 6))
    m = a.sample(_batch())
    assert m.shape == (4, 5, 3) and m.dtype == torch.bool


def test_rate_zero_keeps_everything():
    s = RandomRate(0.0, "independent", seed=0)
    assert bool(s.sample(_batch()).all())
    assert bool(RandomRate(0.0, "cpm", seed=0).sample(_batch()).all())


def test_random_rate_has_no_group_ids():
    with pytest.raises(TypeError, match="per utterance"):
        RandomRate(0.3, "independent", 0).sample_ids(4)


def test_unified_utterance_ids_repeat_the_group_draw():
    a, b = RandomConditions(seed=5), RandomConditions(seed=5)
    ids = a.sample_utterance_ids(6, 4)
    assert torch.equal(ids, b.sample_ids(6).view(6, 1).expand(6, 4))


def test_stored_mask_rows_and_parts():
    val, test = np.array([3, 7, 11, 20]), np.array([0, 1, 2, 30, 31])
    c = stored_mask("ds", "0", 40, {"val": val, "test": test}, 0.5, "independent", 0)
    assert isinstance(c, MaskCondition) and c == "r0.50"
    assert torch.equal(c.table[torch.as_tensor(val)], torch.as_tensor(eval_mask("ds", "0", "val", 4, 0.5).astype(bool)))
    assert torch.equal(
        c.table[torch.as_tensor(test)], torch.as_tensor(eval_mask("ds", "0", "test", 5, 0.5).astype(bool))
    )
    others = np.setdiff1d(np.arange(40), np.concatenate([val, test]))
    assert bool(c.table[torch.as_tensor(others)].all())
    summary = c.summary()
    assert summary["test_digest"] == mask_digest(eval_mask("ds", "0", "test", 5, 0.5))
    assert summary["rate"] == 0.5 and summary["mask"] == "independent" and summary["mask_seed"] == 0
    # a batch is masked by the rows of its utterances
    b = _batch(2, 3, n=40)
    masked = c.apply(b)
    assert torch.equal(masked.avail, c.table[b.idx])


def test_stored_mask_depends_on_mask_seed_not_on_anything_of_the_run():
    parts = {"test": np.arange(50)}
    a = stored_mask("ds", "0", 50, parts, 0.3)
    assert torch.equal(a.table, stored_mask("ds", "0", 50, parts, 0.3).table)
    assert not torch.equal(a.table, stored_mask("ds", "0", 50, parts, 0.3, mask_seed=1).table)
    assert not torch.equal(a.table, stored_mask("ds", "1", 50, parts, 0.3).table)


def test_factory():
    s = make_condition_sampler("random", "atv", 0, rate=0.2, mask="cpm")
    assert isinstance(s, RandomRate) and s.rate == 0.2 and s.kind == "cpm" and s.eval_conditions == []
    with pytest.raises(ValueError, match="missing rate"):
        make_condition_sampler("random", "atv", 0)
    with pytest.raises(ValueError, match="unknown protocol"):
        make_condition_sampler("sometimes", "atv", 0)
