"""Process-wide generators are seeded only at a run's entry point (training.seeding)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import torch

import hardymer
from hardymer.training.seeding import own_torch_stream, seed_everything

SRC = Path(hardymer.__file__).parent
#: calls that seed or fork a process-wide generator, as dotted names
GLOBAL_SEEDING = {
    "torch.manual_seed",
    "torch.random.manual_seed",
    "torch.cuda.manual_seed",
    "torch.cuda.manual_seed_all",
    "torch.random.fork_rng",
    "np.random.seed",
    "numpy.random.seed",
    "random.seed",
}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None  # e.g. torch.Generator().manual_seed(s): a local generator
    return ".".join([node.id, *reversed(parts)])


def test_only_the_seeding_module_seeds_global_generators():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _dotted(node.func) in GLOBAL_SEEDING and rel != "training/seeding.py":
                offenders.append(f"{rel}:{node.lineno} {_dotted(node.func)}")
    assert not offenders, offenders


def test_own_torch_stream_restores_the_callers_stream():
    seed_everything(3)
    expected = torch.rand(5)
    seed_everything(3)
    with own_torch_stream(None):  # the caller's next draws, not consumed
        peeked = torch.rand(5)
    assert torch.equal(peeked, expected)
    with own_torch_stream(42):  # a seeded stream of its own
        seeded = torch.rand(5)
    assert torch.equal(seeded, torch.rand(5, generator=torch.Generator().manual_seed(42)))
    assert torch.equal(torch.rand(5), expected)  # the caller's stream did not move
    seed_everything(3)
    np_first = np.random.random()
    seed_everything(3)
    assert np.random.random() == np_first
