"""Unreadable files get our words: what the file is not and what was expected, on one line, never a
library's advice to load unsafely (``allow_pickle``, ``weights_only=False``) or a bare ``KeyError``."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from hardymer.cli import app

UNSAFE = ("allow_pickle", "weights_only", "KeyError", "pickle", "Traceback")


def _one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert not any(word in lines[0] for word in UNSAFE), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "content, kind", [(b"\x00\x9f\x13 random bytes \xff" * 10, "binary data"), (b"a,b,c\n1,2,3\n", "text")]
)
def test_npz_that_is_not_an_archive(tmp_path, content, kind):
    p = tmp_path / "data.npz"
    p.write_bytes(content)
    line = _one_error_line(CliRunner().invoke(app, ["data", "info", "npz", "--root", str(p)]))
    assert str(p) in line and "not an .npz archive" in line and kind in line


def test_npz_that_is_a_single_npy(tmp_path):
    p = tmp_path / "one.npz"
    with open(p, "wb") as fh:
        np.save(fh, np.zeros(3))
    assert "single .npy" in _one_error_line(CliRunner().invoke(app, ["data", "info", "npz", "--root", str(p)]))


@pytest.mark.parametrize(
    "content, what", [(b"hello, world\n" * 3, "text"), (b"\x80\x02}q\x00.", "binary data"), (b"", "empty")]
)
def test_checkpoint_that_is_not_one(tmp_path, content, what):
    p = tmp_path / "model.pt"
    p.write_bytes(content)
    line = _one_error_line(CliRunner().invoke(app, ["evaluate", "--checkpoint", str(p)]))
    assert str(p) in line and "not a checkpoint" in line and what in line


def test_predict_with_a_checkpoint_that_is_text(tmp_path):
    ck = tmp_path / "c.pt"
    ck.write_text("not a model")
    inp = tmp_path / "new.npz"
    np.savez(inp, audio=np.zeros((2, 3), np.float32))
    line = _one_error_line(
        CliRunner().invoke(
            app, ["predict", "--checkpoint", str(ck), "--input", str(inp), "--out", str(tmp_path / "p.csv")]
        )
    )
    assert "not a checkpoint" in line
