"""Conformance checks for methods, in the spirit of scikit-learn's ``check_estimator``.

A method written outside the package can be checked with one call::

    from hardymer.testing import check_method
    check_method("my-method")                       # a registered method or preset name
    check_method(MyMethod, MyConfig)                # a Method subclass, registered or not

or, in a pytest suite, one test per (method, check)::

    from hardymer.testing import parametrize_with_method_checks

    @parametrize_with_method_checks(["my-method"])
    def test_conformance(method, check):
        check(method)

Every check fits the method on tiny synthetic data (``create_dataset("synthetic", size="tiny")``)
for a few epochs under the unified protocol, so that the model sees every condition; the fits of
one :class:`MethodCase` are shared by its checks. A failing check raises ``AssertionError`` naming
the check and the method. The checks:

- ``check_config_dataclass``: the options are a typed dataclass with defaults and plain values;
- ``check_training_changes_loss``: a few epochs change the loss and the weights, which stay finite;
- ``check_output_shapes``: logits ``[B, L, C]`` / scores ``[B, L]``, probabilities summing to 1;
- ``check_mask_respect``: the values stored for a missing modality change no output;
- ``check_padding_invariance``: extra all-padding groups, or a longer group in the batch, change no output;
- ``check_group_permutation``: permuting the groups of a batch permutes the outputs;
- ``check_group_independence``: (methods without ``uses_groups``) an utterance's output does not
  depend on the other utterances of its group;
- ``check_determinism``: two fits with one seed give identical weights;
- ``check_checkpoint_round_trip``: ``hardymer.load(path).predict`` with every modality subset equals
  the in-memory model under that condition;
- ``check_finite_outputs``: every modality subset gives finite outputs, also on features scaled by 1e4.

Each check runs for both tasks (classification and regression) unless the method was registered
with ``tasks=[...]`` naming one, or ``task=`` restricts it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import tempfile
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hardymer.catalog.presets import resolve_method
from hardymer.conditions import CONDITIONS, MODALITIES, MODALITY_NAMES
from hardymer.config import default_config
from hardymer.data import MultimodalDataset, Standardizer, create_dataset
from hardymer.data.batching import Batch, GroupBatcher
from hardymer.data.protocol import make_condition_sampler
from hardymer.errors import ConfigError
from hardymer.models import METHODS, Method, MethodSpec, list_methods, register_method
from hardymer.models.context import FitContext
from hardymer.training.checkpoint import save_checkpoint
from hardymer.training.seeding import seed_everything
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import FitResult, fit

log = logging.getLogger(__name__)

__all__ = ["MethodCase", "check_method", "method_case", "method_checks", "parametrize_with_method_checks"]

TASKS = ("classification", "regression")
#: size options applied where a method's config has them (keeps every fit in a few CPU seconds)
SMALL = {"hidden": 16, "decoder_hidden": 32, "critic_epochs": 2, "heads": 2, "depth": 1, "layers": 1}
#: feature dims of (audio, text, video) of the synthetic data the checks fit on
DIMS = (6, 8, 5)
#: plain option values a checkpoint can store (``torch.load(weights_only=True)``) and YAML / CLI can set
PLAIN = (bool, int, float, str, type(None))
TOL = 1e-5

Check = Callable[["MethodCase"], None]


@dataclass
class Fitted:
    """One fit of a method on the synthetic data of one task."""

    task: str
    ds: MultimodalDataset  # raw features (what a user passes to ``predict``)
    ds_in: MultimodalDataset  # standardised with the training fold's statistics (what the model saw)
    standardizer: Standardizer
    model: Method  # the selected state, in eval mode
    initial: dict[str, torch.Tensor]  # the parameters before training
    result: FitResult


@dataclass(eq=False)
class MethodCase:
    """A method under test: its class, config dataclass, registered name (``None`` when not
    registered) and options; caches its fits so that the checks of one case share them."""

    label: str
    cls: type[Method]
    config_cls: type
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    tasks: tuple[str, ...] = TASKS
    quick: bool = True
    _fits: dict[str, Fitted] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return self.label

    @property
    def epochs(self) -> int:
        """Training epochs of each fit (2 quick, 4 thorough)."""
        return 2 if self.quick else 4

    def make(self, spec: MethodSpec) -> Method:
        """A fresh model for ``spec`` with the small sizes and the case's options."""
        known = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise ConfigError(
                f"method {self.label!r} has no option {unknown[0]!r}; options: {', '.join(sorted(known))}"
            )
        opts = {k: v for k, v in SMALL.items() if k in known}
        opts.update(self.options)
        return self.cls(spec, self.config_cls(**opts))

    def fit(self, task: str, seed: int = 0) -> Fitted:
        """Fit a fresh model on the tiny synthetic data of ``task`` (not cached)."""
        ds = create_dataset("synthetic", seed=0, task=task, size="tiny", dims=DIMS)
        fold = ds.folds[0]
        std = Standardizer.fit(ds, fold.train)
        ds_in = std.transform(ds)
        seed_everything(seed)
        model = self.make(MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task))
        initial = {k: p.detach().clone() for k, p in model.named_parameters()}
        cfg = default_config()
        cfg.train.epochs, cfg.train.batch_size, cfg.train.patience = self.epochs, 4, 0
        ctx = FitContext(
            ds=ds_in,
            fold=fold,
            conditions=make_condition_sampler("unified", "atv", seed),
            train=cfg.train,
            seed=seed,
            device=torch.device("cpu"),
            run_key={"dataset": ds.name, "fold": fold.name, "seed": seed, "task": task},
            teacher_provider=load_or_fit_teacher,
        )
        result = fit(model, ctx)
        model.eval()
        return Fitted(task=task, ds=ds, ds_in=ds_in, standardizer=std, model=model, initial=initial, result=result)

    def fitted(self, task: str) -> Fitted:
        """The shared fit of ``task`` (fitted on first use)."""
        if task not in self._fits:
            log.debug("fitting %s (%s)", self.label, task)
            self._fits[task] = self.fit(task)
        return self._fits[task]


def _registered_name(cls: type) -> str | None:
    return next((n for n in list_methods() if METHODS.get(n) is cls), None)


def _discover_config(cls: type) -> type | None:
    """The dataclass annotated on the ``config`` parameter of ``cls.__init__``, if any."""
    try:
        hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    except Exception:  # unresolvable annotations: not discoverable
        return None
    hint = hints.get("config")
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def method_case(
    name_or_cls: str | type | MethodCase,
    config_cls: type | None = None,
    *,
    task: str | None = None,
    quick: bool = True,
    options: dict[str, Any] | None = None,
) -> MethodCase:
    """The :class:`MethodCase` of a registered method or preset name, or of a :class:`Method`
    subclass (its config dataclass given, registered with it, or annotated on ``__init__``'s
    ``config``). ``task`` restricts the checks to one task; ``options`` are method options."""
    if isinstance(name_or_cls, MethodCase):
        return name_or_cls
    opts = dict(options or {})
    cls: type[Method]
    name: str | None
    if isinstance(name_or_cls, str):
        method, preset_opts = resolve_method(name_or_cls)
        label, name, cls = name_or_cls, method, typing.cast(type[Method], METHODS.get(method))
        opts = {**preset_opts, **opts}
    elif isinstance(name_or_cls, type) and issubclass(name_or_cls, Method):
        cls = name_or_cls
        name = _registered_name(cls)
        label = name or cls.__qualname__
    else:
        raise ConfigError(f"expected a method name or a Method subclass, got {name_or_cls!r}")
    meta = METHODS.meta(name) if name is not None else {}
    cfg_cls = config_cls or meta.get("config") or _discover_config(cls)
    if cfg_cls is None:
        raise ConfigError(f"{label}: no config dataclass found; pass config_cls (or annotate __init__'s config)")
    supported = tuple(meta.get("tasks") or getattr(cls, "tasks", None) or TASKS)
    bad = [t for t in (*supported, *([task] if task else [])) if t not in TASKS]
    if bad:
        raise ConfigError(f"{label}: unknown task {bad[0]!r}; use {' or '.join(TASKS)}")
    if task is not None and task not in supported:
        raise ConfigError(f"{label}: does not support task {task!r} (supports {', '.join(supported)})")
    return MethodCase(
        label=label,
        cls=cls,
        config_cls=cfg_cls,
        name=name,
        options=opts,
        tasks=(task,) if task else supported,
        quick=quick,
    )


# -- helpers ------------------------------------------------------------------------------------


def _check(fn: Callable[[MethodCase], None]) -> Check:
    """A check: any failure becomes one ``AssertionError`` naming the check and the method."""

    @functools.wraps(fn)
    def run(method: MethodCase) -> None:
        try:
            fn(method)
        except Exception as exc:
            what = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            raise AssertionError(f"{fn.__name__} failed for method {method.label!r}: {what.strip()}") from exc

    return run


def _batcher(f: Fitted) -> GroupBatcher:
    return GroupBatcher(f.ds_in, np.arange(len(f.ds_in)), batch_size=64)


@torch.no_grad()
def _out(model: Method, batch: Batch) -> torch.Tensor:
    return model.predict_output(batch)


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = TOL) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=tol, rtol=tol))


def _subsets() -> Iterator[str]:
    for k in range(1, len(MODALITIES) + 1):
        yield from ("".join(c) for c in itertools.combinations(MODALITIES, k))


def _inputs(ds: MultimodalDataset, subset: str, scale: float = 1.0) -> dict[str, np.ndarray | None]:
    return {MODALITY_NAMES[m]: (ds.features[m] * scale if m in subset else None) for m in MODALITIES}


@torch.no_grad()
def _in_memory(f: Fitted, cond: str) -> np.ndarray:
    """The in-memory model's outputs in dataset order under ``cond`` (groups as the predictor forms them)."""
    ds_in = f.ds_in
    out = np.zeros((len(ds_in), ds_in.output_dim) if f.task == "classification" else (len(ds_in),), np.float32)
    for batch in GroupBatcher(ds_in, np.arange(len(ds_in)), batch_size=16):
        b = batch.with_condition(cond)
        out[b.idx[b.valid].numpy()] = f.model.predict_output(b)[b.valid].numpy()
    return out


@contextmanager
def _loadable(method: MethodCase) -> Iterator[str]:
    """The registered name to save a checkpoint under; an unregistered class is registered for
    the duration (a checkpoint is rebuilt by name) and unregistered afterwards."""
    if method.name is not None:
        yield method.name
        return
    name = f"check-{method.cls.__module__}.{method.cls.__qualname__}"
    register_method(name, method.config_cls)(method.cls)
    try:
        yield name
    finally:
        METHODS.unregister(name)


@contextmanager
def _checkpoint(method: MethodCase, f: Fitted) -> Iterator[Any]:
    """The fitted model saved with ``save_checkpoint`` and loaded back with ``hardymer.load``."""
    from hardymer.inference import load

    ds = f.ds
    with _loadable(method) as name, tempfile.TemporaryDirectory(prefix="hardymer-check-") as tmp:
        path = Path(tmp) / "checkpoint.pt"
        save_checkpoint(
            path,
            f.model,
            name,
            standardizer=f.standardizer,
            config={"train": {"max_len": None}},
            dataset={
                "name": ds.name,
                "task": ds.task,
                "class_names": ds.class_names,
                "fold": ds.folds[0].name,
                "dims": ds.dims,
            },
        )
        yield load(path)


def _plain(value: Any) -> bool:
    """A value a checkpoint, YAML and ``--method-opt`` can hold: bool/int/float/str/None, or lists
    and str-keyed dicts of them."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, PLAIN)


# -- the checks ---------------------------------------------------------------------------------


@_check
def check_config_dataclass(method: MethodCase) -> None:
    """The options are a dataclass whose fields are typed, have defaults and plain values, and
    survive the checkpoint's ``config_dict`` round trip."""
    cls = method.config_cls
    assert dataclasses.is_dataclass(cls) and isinstance(cls, type), f"config {cls!r} is not a dataclass"
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    loose = [
        k
        for k, v in vars(cls).items()
        if not k.startswith("_")
        and k not in fields
        and not callable(v)
        and not isinstance(v, (property, classmethod, staticmethod))
    ]
    assert not loose, f"attribute {loose[0]!r} has no type annotation, so it is not an option"
    for f in dataclasses.fields(cls):
        assert hints.get(f.name) not in (None, Any, object), f"option {f.name!r} has no type annotation"
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, (
            f"option {f.name!r} has no default"
        )
    default = cls()
    for k, v in dataclasses.asdict(default).items():
        assert _plain(v), (
            f"option {k!r} defaults to {v!r}; options must be plain values (bool, int, float, str, "
            "None, or lists and str-keyed dicts of them)"
        )
    assert cls(**dataclasses.asdict(default)) == default, "the config does not round-trip through asdict"
    spec = MethodSpec(dims=dict(zip(MODALITIES, DIMS)), output_dim=4, task=method.tasks[0])
    model = method.make(spec)
    assert isinstance(model.config, cls), f"the model's config is a {type(model.config).__name__}, not {cls.__name__}"
    assert cls(**model.config_dict()) == model.config, "config_dict() does not rebuild the model's config"


@_check
def check_training_changes_loss(method: MethodCase) -> None:
    """A few epochs give finite losses that change, and finite weights that moved from the initial ones."""
    for task in method.tasks:
        f = method.fitted(task)
        losses = [rec["loss"] for rec in f.result.history]
        assert losses and np.isfinite(losses).all(), f"{task}: training losses {losses} are not all finite"
        assert len(set(losses)) > 1, f"{task}: the training loss did not change over {len(losses)} epochs ({losses})"
        if losses[-1] >= losses[0]:
            log.info("%s (%s): the training loss changed but did not decrease (%s)", method.label, task, losses)
        params = dict(f.model.named_parameters())
        bad = [k for k, p in params.items() if not torch.isfinite(p).all()]
        assert not bad, f"{task}: non-finite weights after training: {bad[:3]}"
        moved = [
            k
            for k, p in params.items()
            if k in f.initial and p.shape == f.initial[k].shape and not torch.equal(p.detach(), f.initial[k])
        ]
        assert moved, f"{task}: training changed no weight"


@_check
def check_output_shapes(method: MethodCase) -> None:
    """``forward`` gives ``[B, L, C]`` logits (classification) or ``[B, L]`` / ``[B, L, 1]`` scores;
    ``predict_output`` gives probabilities summing to 1 or ``[B, L]`` scores."""
    for task in method.tasks:
        f = method.fitted(task)
        b = _batcher(f)
        batch = b.make_batch(b.groups[:5]).with_condition("atv")
        B, L = batch.valid.shape
        with torch.no_grad():
            raw = f.model(batch)
        out = _out(f.model, batch)
        if task == "classification":
            C = f.ds.output_dim
            assert tuple(raw.shape) == (B, L, C), f"{task}: forward gave shape {tuple(raw.shape)}, expected {(B, L, C)}"
            sums = out[batch.valid].sum(-1)
            assert _close(sums, torch.ones_like(sums)), f"{task}: probabilities do not sum to 1"
        else:
            assert tuple(raw.shape) in ((B, L), (B, L, 1)), (
                f"{task}: forward gave shape {tuple(raw.shape)}, expected {(B, L)} or {(B, L, 1)}"
            )
            assert tuple(out.shape) == (B, L), f"{task}: predict_output gave shape {tuple(out.shape)}"


@_check
def check_mask_respect(method: MethodCase) -> None:
    """Outputs do not depend on the features stored for a modality the condition makes unavailable."""
    gen = torch.Generator().manual_seed(0)
    for task in method.tasks:
        f = method.fitted(task)
        b = _batcher(f)
        batch = b.make_batch(b.groups[:6])
        for cond in CONDITIONS[:-1]:
            base = _out(f.model, batch.with_condition(cond))
            noisy = dict(batch.x_full)
            for m in MODALITIES:
                if m not in cond:
                    noisy[m] = torch.randn(noisy[m].shape, generator=gen) * 100.0
            other = dataclasses.replace(batch, x=dict(noisy), x_full=noisy)
            assert _close(_out(f.model, other.with_condition(cond)), base), (
                f"{task}, {cond}: the values of a missing modality changed the outputs"
            )


@_check
def check_padding_invariance(method: MethodCase) -> None:
    """Extra all-padding groups, or a longer group in the batch, change no output."""
    for task in method.tasks:
        f = method.fitted(task)
        b = _batcher(f)
        lengths = (b.groups >= 0).sum(1)
        short = torch.argsort(lengths)[:3]  # three short groups
        longest = int(torch.argmax(lengths))
        rows = b.groups[short]
        for cond in CONDITIONS:
            base = _out(f.model, b.make_batch(rows).with_condition(cond))
            L = base.shape[1]
            pad = torch.cat([rows, torch.full((2, rows.shape[1]), -1, dtype=rows.dtype)])
            padded = _out(f.model, b.make_batch(pad).with_condition(cond))
            assert _close(padded[:3, :L], base), f"{task}, {cond}: all-padding groups changed the outputs"
            longer = _out(
                f.model, b.make_batch(torch.cat([rows, b.groups[longest : longest + 1]])).with_condition(cond)
            )
            assert longer.shape[1] > L, "the longest group is not longer than the short ones"
            assert _close(longer[:3, :L], base), f"{task}, {cond}: a longer group in the batch changed the outputs"


@_check
def check_group_permutation(method: MethodCase) -> None:
    """Permuting the groups of a batch permutes the outputs and changes nothing else."""
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    for task in method.tasks:
        f = method.fitted(task)
        b = _batcher(f)
        rows = b.groups[:6]
        for cond in ("atv", "t", "av"):
            base = _out(f.model, b.make_batch(rows).with_condition(cond))
            permuted = _out(f.model, b.make_batch(rows[perm]).with_condition(cond))
            L = base.shape[1]
            assert _close(permuted[:, :L], base[perm]), f"{task}, {cond}: permuting groups changed more than the order"


@_check
def check_group_independence(method: MethodCase) -> None:
    """(``uses_groups = False``) an utterance predicted alone gives what it gives inside its group."""
    for task in method.tasks:
        f = method.fitted(task)
        b = _batcher(f)
        rows = b.groups[:6]
        singles = rows[rows >= 0].unsqueeze(1)
        for cond in ("atv", "at", "v"):
            grouped = _out(f.model, b.make_batch(rows).with_condition(cond))
            alone = _out(f.model, b.make_batch(singles).with_condition(cond))
            valid = rows[:, : grouped.shape[1]] >= 0
            assert _close(grouped[valid], alone[:, 0]), (
                f"{task}, {cond}: outputs depend on the other utterances of a group; set uses_groups = True"
            )


@_check
def check_determinism(method: MethodCase) -> None:
    """Two fits with one seed give identical weights (quick: on the first task only)."""
    for task in method.tasks if not method.quick else method.tasks[:1]:
        ref = method.fitted(task).model.state_dict()
        got = method.fit(task).model.state_dict()
        assert ref.keys() == got.keys(), f"{task}: two fits with one seed have different weights"
        diff = [k for k in ref if not torch.equal(ref[k], got[k])]
        assert not diff, f"{task}: weights differ between two fits with one seed: {diff[:3]}"


@_check
def check_checkpoint_round_trip(method: MethodCase) -> None:
    """``hardymer.load(path).predict`` with every modality subset equals the in-memory model under
    that condition (to 1e-6), with the subset reported and probabilities summing to 1."""
    for task in method.tasks:
        f = method.fitted(task)
        ds = f.ds
        with _checkpoint(method, f) as model:
            for subset in _subsets():
                res = model.predict(**_inputs(ds, subset), groups=ds.groups, order=ds.order)
                got = res.probs if task == "classification" else res.scores
                assert got is not None and np.isfinite(got).all(), f"{task}, {subset}: no finite outputs"
                assert set(res.modalities) == {subset}, f"{task}, {subset}: reported modalities {set(res.modalities)}"
                diff = float(np.abs(got - _in_memory(f, subset)).max())
                assert diff <= 1e-6, (
                    f"{task}, {subset}: the loaded checkpoint differs from the in-memory model (max |diff| {diff:.3g})"
                )
                if task == "classification":
                    assert np.allclose(got.sum(1), 1.0, atol=TOL, rtol=0), (
                        f"{task}, {subset}: probabilities do not sum to 1"
                    )


@_check
def check_finite_outputs(method: MethodCase) -> None:
    """Every modality subset gives finite outputs in memory; the checkpoint gives finite outputs on
    features scaled by 1e4 (extreme but valid inputs; quick: subsets atv, a, tv; else all)."""
    for task in method.tasks:
        f = method.fitted(task)
        for subset in _subsets():
            assert np.isfinite(_in_memory(f, subset)).all(), f"{task}, {subset}: non-finite outputs"
        with _checkpoint(method, f) as model:
            for subset in ("atv", "a", "tv") if method.quick else _subsets():
                res = model.predict(**_inputs(f.ds, subset, scale=1e4), groups=f.ds.groups, order=f.ds.order)
                got = res.probs if task == "classification" else res.scores
                assert got is not None and np.isfinite(got).all(), (
                    f"{task}, {subset}: non-finite outputs on 1e4-scaled features"
                )


ALL_CHECKS: tuple[Check, ...] = (
    check_config_dataclass,
    check_training_changes_loss,
    check_output_shapes,
    check_mask_respect,
    check_padding_invariance,
    check_group_permutation,
    check_group_independence,
    check_determinism,
    check_checkpoint_round_trip,
    check_finite_outputs,
)


def method_checks(method: str | type | MethodCase | None = None) -> list[Check]:
    """The checks that apply to ``method`` (all of them when ``None``), in the order they run; each
    is called as ``check(case)`` with a :class:`MethodCase` and is named by its ``__name__``."""
    if method is None:
        return list(ALL_CHECKS)
    case = method_case(method)
    return [c for c in ALL_CHECKS if not (c is check_group_independence and case.cls.uses_groups)]


def check_method(
    name_or_cls: str | type | MethodCase,
    config_cls: type | None = None,
    *,
    task: str | None = None,
    quick: bool = True,
    options: dict[str, Any] | None = None,
) -> list[str]:
    """Run every check on a registered method or preset name, or a :class:`Method` subclass.

    Raises ``AssertionError`` naming each failing check and the method; returns the names of the
    checks that ran. ``task`` restricts to one task, ``quick=False`` fits longer and checks
    determinism on every task, ``options`` are method options.
    """
    case = method_case(name_or_cls, config_cls, task=task, quick=quick, options=options)
    checks = method_checks(case)
    failures = []
    for check in checks:
        try:
            check(case)
        except AssertionError as exc:
            failures.append(str(exc))
        else:
            log.info("%s passed %s", case.label, check.__name__)
    if failures:
        raise AssertionError(
            f"{len(failures)} of {len(checks)} checks failed for method {case.label!r}:\n- " + "\n- ".join(failures)
        )
    return [c.__name__ for c in checks]


def parametrize_with_method_checks(methods: Sequence[str | type | MethodCase], *, quick: bool = True) -> Any:
    """A ``pytest.mark.parametrize("method, check", ...)`` decorator over every (method, check) pair
    (ids ``<method>-<check>``); the checks of one method share its fits."""
    import pytest

    cases = [method_case(m, quick=quick) for m in methods]
    pairs = [(case, check) for case in cases for check in method_checks(case)]
    return pytest.mark.parametrize(
        "method, check", pairs, ids=[f"{case.label}-{check.__name__}" for case, check in pairs]
    )
