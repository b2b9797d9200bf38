"""Missing-modality test conditions, named by the modalities that are *available*.

``"at"`` means audio and text present, video missing. Any letter order is accepted
(``"ta" == "at"``); names are canonicalised to the order a, t, v.

A :class:`Condition` is a name parsed once: a ``str`` (the canonical name) that carries its
modality mask. Parse at the boundaries (options, configs, files, public function arguments) with
``Condition(name)``; parsing a ``Condition`` again returns it unchanged, so code that receives one
can call ``Condition(c)`` for free.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from yaml import Node
from yaml.representer import BaseRepresenter, Representer, SafeRepresenter

MODALITIES: tuple[str, ...] = ("a", "t", "v")
MODALITY_NAMES = {"a": "audio", "t": "text", "v": "video"}
#: the six missing-modality conditions of the field plus the full condition
CONDITIONS: tuple[str, ...] = ("a", "t", "v", "at", "av", "tv", "atv")
MISSING_CONDITIONS: tuple[str, ...] = CONDITIONS[:-1]


def _canonical_name(name: Any) -> str:
    """The canonical name of ``name`` as a plain ``str``; ``ValueError`` (naming ``name``) if invalid."""
    if not isinstance(name, str):
        raise ValueError(f"condition must be a string like 'at', got {name!r}")
    letters = name.strip().lower()
    if not letters or any(c not in MODALITIES for c in letters) or len(set(letters)) != len(letters):
        raise ValueError(
            f"unknown condition {name!r}: use the available modalities, letters from 'a', 't', 'v' "
            f"without repeats, e.g. {', '.join(CONDITIONS)}"
        )
    return "".join(m for m in MODALITIES if m in letters)


class Condition(str):
    """A validated, canonical condition name (``Condition("VA") == "av"``) with its modality mask.

    It is the canonical ``str`` for every purpose: equality, hashing, sorting, ``repr``, JSON and
    YAML output. ``Condition(c)`` of a ``Condition`` is ``c`` itself (no re-parsing). A bad name
    raises ``ValueError`` with the same text as :func:`canonical_condition`.

    OmegaConf stores only plain ``str`` (it refuses a subclass): assign ``str(c)`` to a config field,
    and parse the field again where the config is read. Likewise keep it out of ``torch.save``
    payloads, which are loaded with ``weights_only`` (checkpoints store the plain config).
    """

    __slots__ = ("_mask",)
    _mask: np.ndarray

    def __new__(cls, name: str) -> Condition:
        if isinstance(name, Condition):
            return name
        canonical = _canonical_name(name)
        self = super().__new__(cls, canonical)
        mask = np.array([m in canonical for m in MODALITIES], dtype=bool)
        mask.flags.writeable = False
        self._mask = mask
        return self

    @property
    def mask(self) -> np.ndarray:
        """Read-only boolean vector over (a, t, v): True where the modality is available."""
        return self._mask

    @property
    def modalities(self) -> tuple[str, ...]:
        """The available modalities in canonical order (``Condition("at").modalities == ("a", "t")``)."""
        return tuple(self)

    @property
    def missing(self) -> tuple[str, ...]:
        """The missing modalities in canonical order (``Condition("at").missing == ("v",)``)."""
        return tuple(m for m in MODALITIES if m not in self)

    def __repr__(self) -> str:
        return str.__repr__(self)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Condition, (str(self),))

    def __copy__(self) -> Condition:
        return self

    def __deepcopy__(self, memo: dict) -> Condition:
        return self


def _represent_condition(dumper: BaseRepresenter, data: Condition) -> Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data))


# YAML writes a Condition as its name (safe and full dumpers, pure-Python and C)
SafeRepresenter.add_representer(Condition, _represent_condition)
Representer.add_representer(Condition, _represent_condition)


def canonical_condition(name: str) -> str:
    """Normalise a condition name (``"VA"`` -> ``"av"``) to a plain ``str``; raise ``ValueError`` if invalid.

    Prefer :class:`Condition`, which also carries the mask."""
    if isinstance(name, Condition):
        return str(name)
    return _canonical_name(name)


def parse_conditions(spec: str) -> list[Condition]:
    """Parse ``"all"``, ``"missing"`` or a comma list (``"a,tv"``) into :class:`Condition` values."""
    spec = spec.strip().lower()
    if spec == "all":
        return [Condition(c) for c in CONDITIONS]
    if spec == "missing":
        return [Condition(c) for c in MISSING_CONDITIONS]
    out: list[Condition] = []
    for part in spec.split(","):
        c = Condition(part)
        if c not in out:
            out.append(c)
    return out


def condition_mask(name: str) -> np.ndarray:
    """Boolean vector over (a, t, v): True where the condition keeps the modality (a writable copy)."""
    return Condition(name).mask.copy()


# ---------------------------------------------------------------------------- random missing rates
#: the result column of the area under the metric-over-rate curve (per seed, normalised by the span)
AUC_COLUMN = "auc"


def rate_label(rate: float) -> str:
    """The evaluation-condition name of missing rate ``rate`` under the random protocol (``r0.30``)."""
    return f"r{float(rate):.2f}"


def label_rate(label: str) -> float | None:
    """The missing rate a label like ``r0.30`` names; ``None`` for anything else (a condition, ``mean6``)."""
    if not isinstance(label, str) or len(label) < 2 or label[0] != "r":
        return None
    try:
        return float(label[1:])
    except ValueError:
        return None


def ordered_columns(names: Any) -> list[str]:
    """Result columns in reading order: the seven conditions, then missing-rate labels by rate, then
    the rest sorted (``mean``, ``mean6``, ``auc`` are left out: callers append the summaries they show)."""
    names = {str(n) for n in names}
    rates = sorted((n for n in names if label_rate(n) is not None), key=lambda n: label_rate(n) or 0.0)
    rest = sorted(n for n in names if n not in CONDITIONS and n not in rates and n not in ("mean", "mean6", AUC_COLUMN))
    return [c for c in CONDITIONS if c in names] + rates + rest


def area_under_rates(values: dict[str, float]) -> float | None:
    """Area under ``metric(r)`` over the rates of ``values`` (``{rate label: value}``), trapezoid rule,
    divided by the span of r: the mean of the metric over the swept rates, in the metric's units.
    ``None`` with fewer than two rates."""
    pts = sorted((label_rate(k), float(v)) for k, v in values.items() if label_rate(k) is not None)
    if len(pts) < 2:
        return None
    r = np.array([p[0] for p in pts], dtype=float)
    y = np.array([p[1] for p in pts], dtype=float)
    span = r[-1] - r[0]
    if span <= 0:
        return None
    return float(np.sum((y[1:] + y[:-1]) / 2.0 * np.diff(r)) / span)
