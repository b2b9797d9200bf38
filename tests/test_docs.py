"""The docs agree with the code: README results, package folders in docs/architecture.md, relative links."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    script = ROOT / "scripts" / "update_readme_results.py"
    spec = importlib.util.spec_from_file_location("update_readme_results", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_results_match_results_json():
    if not (ROOT / "docs" / "results").is_dir():
        pytest.skip("no committed results")
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- results:begin -->\n(.*)<!-- results:end -->", text, flags=re.S)
    assert m, "README.md lacks the results markers"
    stale = "README results are stale: run python scripts/update_readme_results.py"
    assert m.group(1) == _script().build_readme(), stale
    index = (ROOT / "docs" / "results.md").read_text()
    assert _script().build().replace("](docs/", "](") in index, stale  # every table, in docs/results.md


def test_results_are_validation_selected():
    import json

    for p in sorted((ROOT / "docs" / "results").glob("*/results.json")):
        r = json.loads(p.read_text())
        assert r["select_on"] == "val" and not r["optimistic"], p
        assert len(r["seeds"]) >= 3, p


def test_architecture_mentions_every_package_folder():
    text = (ROOT / "docs" / "architecture.md").read_text()
    src = ROOT / "src" / "hardymer"
    folders = sorted(
        p.relative_to(src).as_posix()
        for p in src.rglob("*")
        if p.is_dir() and p.name != "__pycache__" and not p.name.endswith(".egg-info")
    )
    assert folders, "no package folders found"
    missing = [f for f in folders if f"{f}/" not in text]
    assert not missing, f"docs/architecture.md does not mention {', '.join(missing)}"


@pytest.mark.parametrize(
    "doc",
    [
        "README.md",
        "docs/architecture.md",
        "docs/results-notes.md",
        "benchmarks/README.md",
        "benchmarks/results/HISTORY.md",
    ],
)
def test_relative_links_resolve(doc):
    path = ROOT / doc
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", path.read_text())]
    local = [t for t in targets if t and "://" not in t and not t.startswith("mailto:")]
    broken = [t for t in local if not (path.parent / t).exists()]
    assert not broken, f"{doc}: links to missing files: {', '.join(broken)}"
