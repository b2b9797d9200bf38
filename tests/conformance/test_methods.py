"""Every registered method and every preset passes :mod:`hardymer.testing`'s checks (mask respect,
padding invariance, group permutation / independence, determinism, checkpoint round trip with every
modality subset, finite outputs, training changes the loss, typed config), for both tasks.

The cases are generated at collection time from ``list_methods()`` and ``load_presets()``: a method
or preset added later is covered by registering it. The checks of one case share its fits.
"""

from __future__ import annotations

from hardymer.catalog.presets import load_presets
from hardymer.models import list_methods
from hardymer.testing import method_checks, parametrize_with_method_checks

#: every preset, then every registered method that has no preset of its own name
CASES = sorted(load_presets()) + [m for m in list_methods() if m not in load_presets()]


@parametrize_with_method_checks(CASES)
def test_method_conformance(method, check):
    check(method)


def test_every_method_and_preset_is_covered():
    assert set(list_methods()) <= set(CASES) and set(load_presets()) <= set(CASES)


def test_every_check_runs_on_some_method():
    ran = {c.__name__ for name in CASES for c in method_checks(name)}
    assert ran == {c.__name__ for c in method_checks()}
