"""The README's results section is exactly what docs/results/*/results.json generate."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("update_readme_results", ROOT / "scripts" / "update_readme_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_results_match_results_json():
    if not (ROOT / "docs" / "results").is_dir():
        pytest.skip("no committed results")
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- results:begin -->\n(.*)<!-- results:end -->", text, flags=re.S)
    assert m, "README.md lacks the results markers"
    assert m.group(1) == _script().build(), "README results are stale: run python scripts/update_readme_results.py"


def test_results_are_validation_selected():
    import json

    for p in sorted((ROOT / "docs" / "results").glob("*/results.json")):
        r = json.loads(p.read_text())
        assert r["select_on"] == "val" and not r["optimistic"], p
        assert len(r["seeds"]) >= 3, p
