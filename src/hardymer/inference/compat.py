"""Does a checkpoint fit the inputs it is given? The modality set of a fixed-protocol model.

A fixed-protocol model is trained (its stage 2, for two-stage methods) on exactly one condition;
given another modality set its outputs are off its training distribution. That is allowed (one
warning naming both sets) or, with ``strict``, refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hardymer.conditions import CONDITIONS, MODALITY_NAMES, Condition
from hardymer.errors import ConfigError

log = logging.getLogger(__name__)


def trained_condition(ckpt: dict) -> Condition | None:
    """The condition a fixed-protocol checkpoint was trained on (canonical, e.g. ``"at"``);
    ``None`` for a unified model or when its config does not say."""
    cfg = ckpt.get("config") or {}
    if cfg.get("protocol") != "fixed" or not cfg.get("condition"):
        return None
    try:
        return Condition(str(cfg["condition"]))
    except ValueError:
        return None


def describe_modalities(condition: str) -> str:
    """``"at"`` -> ``"audio+text"``."""
    return "+".join(MODALITY_NAMES[m] for m in condition)


def check_modalities(ckpt: dict, given: Iterable[str], *, strict: bool = False, source: str = "") -> str | None:
    """Compare the modality sets ``given`` (conditions, e.g. the distinct per-utterance sets of the
    input) with the one a fixed-protocol checkpoint was trained on. Returns the warning (also
    logged once) when some differ, else ``None``; with ``strict`` raises ``ConfigError`` instead."""
    trained = trained_condition(ckpt)
    if trained is None:
        return None
    sets = sorted({Condition(c) for c in given}, key=lambda c: (CONDITIONS.index(c), c))
    other = [c for c in sets if c != trained]
    if not other:
        return None
    where = f"{source}: " if source else ""
    msg = (
        f"{where}this {ckpt.get('method', 'model')} model was trained under the fixed protocol on "
        f"{describe_modalities(trained)} ({trained}) only, but is given "
        f"{', '.join(f'{describe_modalities(c)} ({c})' for c in other)}; "
        "its outputs there are off its training distribution"
    )
    if strict:
        raise ConfigError(msg + " (refused: --strict)")
    log.warning("%s", msg)
    return msg
