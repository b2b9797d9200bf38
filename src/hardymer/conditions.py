"""Missing-modality test conditions, named by the modalities that are *available*.

``"at"`` means audio and text present, video missing. Any letter order is accepted
(``"ta" == "at"``); names are canonicalised to the order a, t, v.
"""

from __future__ import annotations

import numpy as np

MODALITIES: tuple[str, ...] = ("a", "t", "v")
MODALITY_NAMES = {"a": "audio", "t": "text", "v": "video"}
#: the six missing-modality conditions of the field plus the full condition
CONDITIONS: tuple[str, ...] = ("a", "t", "v", "at", "av", "tv", "atv")
MISSING_CONDITIONS: tuple[str, ...] = CONDITIONS[:-1]


def canonical_condition(name: str) -> str:
    """Normalise a condition name (``"VA"`` -> ``"av"``); raise ``ValueError`` if invalid."""
    if not isinstance(name, str):
        raise ValueError(f"condition must be a string like 'at', got {name!r}")
    letters = name.strip().lower()
    if not letters or any(c not in MODALITIES for c in letters) or len(set(letters)) != len(letters):
        raise ValueError(
            f"unknown condition {name!r}: use the available modalities, letters from 'a', 't', 'v' "
            f"without repeats, e.g. {', '.join(CONDITIONS)}"
        )
    return "".join(m for m in MODALITIES if m in letters)


def parse_conditions(spec: str) -> list[str]:
    """Parse ``"all"``, ``"missing"`` or a comma list (``"a,tv"``) into canonical names."""
    spec = spec.strip().lower()
    if spec == "all":
        return list(CONDITIONS)
    if spec == "missing":
        return list(MISSING_CONDITIONS)
    out: list[str] = []
    for part in spec.split(","):
        c = canonical_condition(part)
        if c not in out:
            out.append(c)
    return out


def condition_mask(name: str) -> np.ndarray:
    """Boolean vector over (a, t, v): True where the condition keeps the modality."""
    c = canonical_condition(name)
    return np.array([m in c for m in MODALITIES], dtype=bool)
