"""``hardymer._io.atomic_write`` is the one atomic writer: every helper and every report file goes through it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from hardymer import _io
from hardymer.errors import DiskError

SRC = Path(__file__).resolve().parents[2] / "src" / "hardymer"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_helpers_write_complete_files_with_normal_permissions(tmp_path):
    out = tmp_path / "new" / "folder"
    assert _io.atomic_write_text(out / "a.txt", "héllo\n") == out / "a.txt"
    assert (out / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    _io.atomic_write_bytes(out / "b.bin", b"\x00\x01")
    assert (out / "b.bin").read_bytes() == b"\x00\x01"
    _io.atomic_write_json(out / "c.json", {"x": np.float32(1.5), "y": np.arange(2), "p": Path("z")})
    assert json.loads((out / "c.json").read_text()) == {"x": 1.5, "y": [0, 1], "p": "z"}
    arrays = {"f": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.array(["a", "b"])}
    for name, compress in (("d.npz", False), ("e.npz", True)):
        _io.atomic_savez(out / name, arrays, compress=compress)
        with np.load(out / name, allow_pickle=False) as z:
            assert {k: z[k].tolist() for k in z.files} == {k: v.tolist() for k, v in arrays.items()}
    _io.atomic_numpy_save(out / "f.npz", **arrays)
    with np.load(out / "f.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["f"], arrays["f"])
    _io.atomic_npy_save(out / "g.npy", arrays["f"])
    np.testing.assert_array_equal(np.load(out / "g.npy", allow_pickle=False), arrays["f"])
    mask = os.umask(0)
    os.umask(mask)
    for p in out.iterdir():
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask, p.name
    assert _leftovers(out) == []


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.md"
    _io.atomic_write_text(target, "old")

    def half(tmp: str) -> None:
        Path(tmp).write_text("half-written")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _io.atomic_write(target, half)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []

    def full(tmp: str) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(DiskError, match=r"report\.md: cannot write \(No space left on device\)"):
        _io.atomic_write(target, full)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_no_other_module_writes_through_its_own_temporary_file():
    """Only ``_io`` renames temporary files into place (a download, verified before it replaces its
    target, streams into its own partial file), and nothing imports ``_io``'s private names."""
    allowed = {SRC / "_io.py", SRC / "data" / "fetch.py"}
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"from hardymer\._io import[^\n]*\b_\w+", text), path
        if path not in allowed:
            assert "os.replace(" not in text and "mkstemp(" not in text, path
