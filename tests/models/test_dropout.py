"""``train.fast_dropout``: random-bits dropout masks keep the rate, the scaling and determinism."""

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from hardymer.config import TrainConfig
from hardymer.data import create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.models.dropout import (
    BitsDropout,
    bits_dropout,
    keep_mask,
    keep_probability,
    use_fast_dropout,
)
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import fit


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_keep_rate_and_inverted_scaling(p):
    q = keep_probability(p)
    assert abs(q - (1 - p)) <= 2.0**-17
    torch.manual_seed(0)
    n = 1_000_003  # not a multiple of 4: the last 64-bit word is used in part
    x = torch.rand(n) + 0.5
    y = bits_dropout(x, p)
    kept = y != 0
    # keep rate within 5 binomial standard deviations of q
    assert abs(kept.double().mean().item() - q) < 5 * math.sqrt(q * (1 - q) / n)
    torch.testing.assert_close(y[kept], x[kept] / q, rtol=1e-6, atol=0)  # inverted scaling by 1/q
    # E[y] = x: the mean ratio is 1 within sampling error
    assert abs((y / x).double().mean().item() - 1.0) < 5 * math.sqrt((1 - q) / q / n)


def test_lanes_are_independent_and_unbiased():
    torch.manual_seed(1)
    m = keep_mask((400_000,), 0.5).view(-1, 4).double()  # the four int16 lanes of every 64-bit word
    sd = math.sqrt(0.25 / m.shape[0])
    assert (m.mean(0) - 0.5).abs().max().item() < 5 * sd
    c = torch.corrcoef(m.T)
    assert (c - torch.eye(4, dtype=torch.float64)).abs().max().item() < 5 / math.sqrt(m.shape[0])


def test_determinism_under_seed_and_backward():
    x = torch.randn(64, 9, 32, requires_grad=True)
    torch.manual_seed(3)
    a = bits_dropout(x, 0.3)
    torch.manual_seed(3)
    b = bits_dropout(x, 0.3)
    c = bits_dropout(x, 0.3)
    assert torch.equal(a, b) and not torch.equal(b, c)
    a.sum().backward()
    q = keep_probability(0.3)
    torch.testing.assert_close(x.grad, (a != 0).float() / q)


def test_eval_mode_and_zero_p_are_identity():
    x = torch.randn(5, 7)
    assert bits_dropout(x, 0.3, training=False) is x
    assert bits_dropout(x, 0.0) is x
    d = BitsDropout(0.4).eval()
    assert torch.equal(d(x), x)
    assert torch.equal(bits_dropout(x, 1.0), torch.zeros_like(x))


def _ds():
    return create_dataset("synthetic", size="tiny", seed=0, task="regression")


def test_use_fast_dropout_replaces_every_dropout_and_keeps_the_state_dict():
    ds = _ds()
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    torch.manual_seed(0)
    m = create_method("backbone", spec, hidden=32, depth=2, decoder_hidden=64)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    n_drop = sum(type(x) is nn.Dropout for x in m.modules())
    assert use_fast_dropout(m) == n_drop > 0
    assert not any(type(x) is nn.Dropout for x in m.modules())
    assert all(x.p == 0.3 for x in m.modules() if isinstance(x, BitsDropout))
    after = m.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


def _fit(fast: bool) -> dict:
    ds = _ds()
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    torch.manual_seed(0)
    m = create_method("backbone", spec, hidden=32, depth=1, decoder_hidden=64)
    tc = OmegaConf.structured(TrainConfig(epochs=4, patience=0, batch_size=8, fast_dropout=fast))
    ctx = FitContext(
        ds=ds,
        fold=ds.folds[0],
        conditions=FixedCondition("at"),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    torch.manual_seed(0)
    fit(m, ctx)
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_fit_with_fast_dropout_is_deterministic_and_differs_from_torch_dropout():
    a, b, ref = _fit(True), _fit(True), _fit(False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], ref[k]) for k in a)  # another random stream, as documented
