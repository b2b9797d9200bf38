"""The package's layer order: imports only go downwards, and no module is part of an import cycle.

Every import of a ``hardymer`` module counts: top-level, inside functions (lazy imports are real
arrows) and under ``if TYPE_CHECKING:`` (an annotation is a dependency too). The order, lowest
first (a module may import its own layer and the layers below):

0. base modules: ``conditions errors optim _registry _env _memory _cache _io config``
1. ``data`` (the data model, loaders, batching, the protocols' condition samplers), ``evaluation``
   (metrics and statistics)
2. ``hardness``, ``reporting``, ``extract``
3. ``retrieval``
4. ``models`` (the method interface, ``FitContext``, the methods, HARDY-MER's curriculum)
5. ``catalog`` (presets, recipes, option validation, the ``list`` catalogue)
6. ``training``
7. ``bench``, ``inference``
8. ``tuning``, ``testing``
9. ``cli``; 10. the package root (``hardymer.load``) and ``__main__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "hardymer"

BASE = {"conditions", "errors", "optim", "_registry", "_env", "_memory", "_cache", "_io", "config"}
LAYERS = {
    "data": 1,
    "evaluation": 1,
    "hardness": 2,
    "reporting": 2,
    "extract": 2,
    "retrieval": 3,
    "models": 4,
    "catalog": 5,
    "training": 6,
    "bench": 7,
    "inference": 7,
    "tuning": 8,
    "testing": 8,
    "cli": 9,
    "__main__": 10,
    "__init__": 10,
}


def _layer(top: str) -> int:
    if top in BASE:
        return 0
    assert top in LAYERS, f"module hardymer.{top} has no layer: add it to LAYERS (tests/test_layers.py)"
    return LAYERS[top]


def _modules() -> dict[str, Path]:
    """``{dotted module without the hardymer. prefix: path}``; a package is named by its folder."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, module: str, known: set[str] | None = None) -> set[str]:
    """``hardymer`` modules imported by ``path`` (dotted, without the ``hardymer.`` prefix), every
    import statement counted; ``from pkg import name`` counts ``pkg.name`` where that is a module."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    pkg = module.split(".") if is_pkg else module.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(["hardymer", *pkg[: len(pkg) - node.level + 1]])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n == "hardymer" or not n.startswith("hardymer."):
                continue
            n = n.removeprefix("hardymer.")
            if known is not None:
                while n and n not in known:
                    n = n.rpartition(".")[0]
            if n and n != module:
                out.add(n)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {m: _imports(p, m, known) for m, p in mods.items()}


def _violations() -> set[tuple[str, str]]:
    bad = set()
    for module, targets in _graph().items():
        me = _layer(module.split(".")[0])
        for target in targets:
            if _layer(target.split(".")[0]) > me:
                bad.add((module, target))
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_imports_follow_the_layer_order():
    bad = sorted(_violations())
    assert not bad, "imports going up the layers: " + ", ".join(f"{a} -> {b}" for a, b in bad)


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_models_do_not_import_training():
    for module, targets in _graph().items():
        if module.startswith("models"):
            assert not any(t.startswith("training") for t in targets), module


def test_the_walker_sees_lazy_and_type_checking_imports(tmp_path):
    p = tmp_path / "m.py"
    p.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hardymer.cli import app\n"
        "def f():\n    from hardymer.training.trainer import fit\n    from . import base\n"
    )
    assert _imports(p, "models.m") == {
        "cli",
        "cli.app",
        "training.trainer",
        "training.trainer.fit",
        "models",
        "models.base",
    }


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
