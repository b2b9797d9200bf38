"""The package's layer order: imports only go downwards.

data → hardness → retrieval → models → training → evaluation → reporting → bench / tuning /
inference → cli; ``conditions``, ``config``, ``errors``, ``optim``, ``_io``, ``_registry``, ``_env``, ``_memory``
are base modules every layer may use. Every import of a ``hardymer`` module counts, also those inside
functions (lazy imports are real arrows); only ``if TYPE_CHECKING:`` blocks (annotations) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "hardymer"

BASE = {"conditions", "config", "errors", "optim", "_io", "_registry", "_env", "_memory"}
LAYERS = {
    "data": 1, "extract": 1,  # feature extraction writes datasets (it reads data.npz)
    "hardness": 2, "retrieval": 3, "models": 4, "training": 5, "evaluation": 6, "reporting": 7,
    "bench": 8, "tuning": 8, "inference": 8, "cli": 9,
    "__main__": 10,  # ``python -m hardymer``: the CLI
    "__init__": 10,  # the package root is the public facade (``hardymer.load`` → inference), lazily
}

#: upward imports that exist today, each with its reason; nothing else may be added
KNOWN_EXCEPTIONS = {
    # the trainer selects epochs with the metric functions, which live in evaluation/
    ("training.trainer", "evaluation.metrics"),
    # config validation checks train.select_metric against the metric names
    ("training.validation", "evaluation.metrics"),
}


def _layer(top: str) -> int:
    if top in BASE:
        return 0
    assert top in LAYERS, f"module hardymer.{top} has no layer: add it to LAYERS"
    return LAYERS[top]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, module: str) -> set[str]:
    """``hardymer`` modules imported by ``path`` (dotted, without the ``hardymer.`` prefix)."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    pkg = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(["hardymer", *pkg[: len(pkg) - node.level + 1]])
                names = ([f"{base}.{node.module}"] if node.module else [f"{base}.{a.name}" for a in node.names])
            else:
                names = [node.module or ""]
        else:
            continue
        for n in names:
            if n == "hardymer" or n.startswith("hardymer."):
                out.add(n.removeprefix("hardymer").lstrip("."))
    return {n for n in out if n}


def _violations() -> set[tuple[str, str]]:
    bad = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        module = ".".join(rel.parts)
        me = _layer(rel.parts[0] if len(rel.parts) > 1 else rel.stem)
        for target in _imports(path, module):
            if _layer(target.split(".")[0]) > me:
                bad.add((module, target))
    return bad


def test_imports_follow_the_layer_order():
    bad = _violations()
    new = sorted(bad - KNOWN_EXCEPTIONS)
    assert not new, "imports going up the layers: " + ", ".join(f"{a} -> {b}" for a, b in new)


def test_known_exceptions_still_exist():
    """An exception that was fixed must leave the list (so the list stays the truth)."""
    assert KNOWN_EXCEPTIONS <= _violations()


def test_models_do_not_import_training():
    for path in (SRC / "models").rglob("*.py"):
        assert not any(t.startswith("training") for t in _imports(path, f"models.{path.stem}")), path.name


def test_the_walker_sees_lazy_imports(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hardymer.cli import app\n"
                 "def f():\n    from hardymer.training.trainer import fit\n    from . import base\n")
    assert _imports(p, "models.m") == {"training.trainer", "models.base"}
