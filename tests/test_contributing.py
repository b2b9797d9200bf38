"""CONTRIBUTING.md's checklists are enough: the example method module, written outside the package
as the "add a method" checklist says, registers itself and passes ``hardymer.testing.check_method``;
the files the checklists name exist and are where the built-in methods and datasets are wired."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest
import yaml

from hardymer.models import METHODS, list_methods
from hardymer.testing import check_method, method_checks

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "CONTRIBUTING.md"


def _section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert m, f"CONTRIBUTING.md has no section {title!r}"
    return m.group(1)


def _example_module() -> str:
    blocks = re.findall(r"```python\n(.*?)```", _section("Add a method"), flags=re.S)
    assert len(blocks) == 1, "the 'Add a method' section should hold one complete method module"
    return blocks[0]


def _registered_name(source: str) -> str:
    calls = [
        n
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "register_method"
    ]
    assert len(calls) == 1, "the example registers one method"
    return ast.literal_eval(calls[0].args[0])


def test_the_example_method_module_passes_the_conformance_checks(tmp_path, monkeypatch):
    source = _example_module()
    name = _registered_name(source)
    assert name not in list_methods()
    (tmp_path / "contrib_example_method.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        importlib.import_module("contrib_example_method")
        assert name in list_methods(), "importing the module did not register the method"
        ran = check_method(name)
        assert ran == [c.__name__ for c in method_checks(name)]
    finally:
        sys.modules.pop("contrib_example_method", None)
        if name in METHODS:
            METHODS.unregister(name)
    assert name not in list_methods()


@pytest.mark.parametrize("section", ["Add a method", "Add a dataset", "Add an extractor backend"])
def test_the_files_a_checklist_names_exist(section):
    paths = re.findall(r"`((?:src|docs|tests)/[^`<>]+|pyproject\.toml)`", _section(section))
    assert paths
    for p in paths:
        assert (ROOT / p).exists(), f"CONTRIBUTING.md ({section}) names {p}, which does not exist"


def _imported_modules(init: Path, package: str) -> set[str]:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == package for a in n.names}


def _decorators(path: Path) -> set[str]:
    """Names of the decorator calls on the module's top-level classes and functions."""
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        for d in getattr(node, "decorator_list", []):
            if isinstance(d, ast.Call) and isinstance(d.func, ast.Name):
                out.add(d.func.id)
    return out


@pytest.mark.parametrize(
    ("folder", "package", "decorator"),
    [
        ("models", "hardymer.models", "register_method"),
        ("data/loaders", "hardymer.data.loaders", "register_dataset"),
    ],
)
def test_every_registering_module_is_imported_where_the_checklist_says(folder, package, decorator):
    src = ROOT / "src" / "hardymer"
    init = src / ("models/__init__.py" if folder == "models" else "data/__init__.py")
    imported = _imported_modules(init, package)
    registering = {p.stem for p in (src / folder).glob("*.py") if decorator in _decorators(p)}
    assert registering and registering <= imported, f"not imported in {init.name}: {registering - imported}"


def test_every_method_has_a_search_space_group():
    spaces = yaml.safe_load((ROOT / "src/hardymer/configs/search_spaces.yaml").read_text(encoding="utf-8"))
    assert set(list_methods()) <= set(spaces)


def test_the_checks_before_submitting_are_runnable():
    commands = _section("Before submitting")
    for needle in ('pytest -q -m "not slow"', "ruff check src tests", "mypy src", "tests/test_layers.py"):
        assert needle in commands
    assert (ROOT / "tests" / "test_layers.py").is_file()
    assert "slow:" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
