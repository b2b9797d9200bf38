"""A method defined outside the package passes ``hardymer.testing.check_method``; broken ones are
rejected with a message naming the failing check and the method."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from hardymer.conditions import MODALITIES
from hardymer.errors import ConfigError
from hardymer.models import METHODS, Method, MethodSpec, list_methods, register_method
from hardymer.testing import check_method, method_case, method_checks


@dataclass
class MeanConfig:
    hidden: int = 8
    regression_loss: str = "l1"


class MeanOfAvailable(Method):
    """Per-modality linear projections averaged over the available modalities, then a linear head."""

    def __init__(self, spec: MethodSpec, config: MeanConfig) -> None:
        super().__init__(spec, config)
        self.proj = nn.ModuleDict({m: nn.Linear(spec.dims[m], config.hidden) for m in MODALITIES})
        self.head = nn.Linear(config.hidden, spec.output_dim)

    def inputs(self, batch, m: str) -> torch.Tensor:
        return batch.x[m]

    def forward(self, batch) -> torch.Tensor:
        avail = batch.avail.float()
        h = sum(self.proj[m](self.inputs(batch, m)) * avail[..., j : j + 1] for j, m in enumerate(MODALITIES))
        return self.head(torch.relu(h / avail.sum(-1, keepdim=True).clamp(min=1.0)))

    def training_loss(self, batch, ctx, epoch: int) -> torch.Tensor:
        b = batch.with_availability(ctx.conditions.sample(batch))
        return self.task_loss(self.forward(b), b.y, b.valid)


class ReadsMaskedFeatures(MeanOfAvailable):
    """Broken: reads the stored features of every modality, available or not."""

    def forward(self, batch) -> torch.Tensor:
        h = sum(self.proj[m](batch.x_full[m]) for m in MODALITIES)
        return self.head(torch.relu(h))


class FrozenLoss(MeanOfAvailable):
    """Broken: its loss does not depend on its weights' values, so training changes nothing."""

    def training_loss(self, batch, ctx, epoch: int) -> torch.Tensor:
        return sum((p * 0.0).sum() for p in self.parameters()) + 1.0


@dataclass
class UntypedConfig:
    hidden = 8  # not a field: no annotation


@dataclass
class ObjectConfig:
    hidden: int = 8
    width: object = None


@pytest.fixture
def registered() -> Iterator[str]:
    """``toy-mean`` registered for one test, removed afterwards."""
    register_method("toy-mean", MeanConfig, paper="a test toy", protocols=["fixed", "unified"])(MeanOfAvailable)
    try:
        yield "toy-mean"
    finally:
        METHODS.unregister("toy-mean")
    assert "toy-mean" not in list_methods()


def test_a_registered_toy_passes(registered):
    ran = check_method(registered)
    assert "check_mask_respect" in ran and "check_group_independence" in ran and "check_checkpoint_round_trip" in ran


def test_an_unregistered_toy_passes_and_leaves_the_registry_as_it_was():
    before = list_methods()
    assert len(check_method(MeanOfAvailable, task="regression")) == len(method_checks(MeanOfAvailable))
    assert list_methods() == before


def test_the_config_is_discovered_from_the_annotation():
    assert method_case(MeanOfAvailable).config_cls is MeanConfig


def test_reading_masked_features_is_rejected():
    with pytest.raises(AssertionError) as err:
        check_method(ReadsMaskedFeatures, MeanConfig, task="classification")
    msg = str(err.value)
    assert "check_mask_respect failed for method 'ReadsMaskedFeatures'" in msg
    assert "missing modality changed the outputs" in msg
    assert "check_config_dataclass" not in msg


def test_a_loss_that_trains_nothing_is_rejected():
    with pytest.raises(AssertionError, match="check_training_changes_loss failed for method 'FrozenLoss'"):
        check_method(FrozenLoss, MeanConfig, task="regression")


def test_one_check_called_alone_names_itself_and_the_method():
    case = method_case(ReadsMaskedFeatures, MeanConfig, task="regression")
    check = next(c for c in method_checks(case) if c.__name__ == "check_mask_respect")
    with pytest.raises(AssertionError, match="check_mask_respect failed for method 'ReadsMaskedFeatures'"):
        check(case)


@pytest.mark.parametrize(("config", "what"), [(UntypedConfig, "attribute 'hidden'"), (ObjectConfig, "option 'width'")])
def test_an_untyped_config_is_rejected(config, what):
    case = method_case(MeanOfAvailable, config, task="regression")
    check = next(c for c in method_checks(case) if c.__name__ == "check_config_dataclass")
    with pytest.raises(AssertionError, match=f"check_config_dataclass failed .*{what} has no type annotation"):
        check(case)


def test_bad_arguments_are_one_clear_error():
    with pytest.raises(ConfigError, match="unknown method or preset"):
        check_method("no-such-method")
    with pytest.raises(ConfigError, match="expected a method name or a Method subclass"):
        check_method(int)
    with pytest.raises(ConfigError, match="unknown task 'ranking'"):
        check_method(MeanOfAvailable, task="ranking")
