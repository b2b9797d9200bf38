"""``hardymer cache info|clean`` and the cache folder helpers: sizes per kind, removal by kind and
age, files the package did not write left alone."""

from __future__ import annotations

import json
import os
import time

import pytest
from typer.testing import CliRunner

from hardymer._cache import cache_entries, cache_summary, clean_cache
from hardymer.cli import app


def _fill(d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "teacher-0123456789abcdef0123.pt").write_bytes(b"x" * 100)
    (d / "teacher-aaaaaaaaaaaaaaaaaaaa.pt").write_bytes(b"x" * 50)
    (d / "stage1-bbbbbbbbbbbbbbbbbbbb.pt").write_bytes(b"x" * 30)
    (d / "hardness-cccccccccccccccccccc.npz").write_bytes(b"x" * 20)
    (d / ".teacher-dddd.pt.abc123.tmp").write_bytes(b"x" * 5)
    (d / "notes.txt").write_text("mine")  # not the package's: never listed or removed
    old = time.time() - 10 * 86400
    os.utime(d / "teacher-aaaaaaaaaaaaaaaaaaaa.pt", (old, old))


def test_summary_and_clean(tmp_path):
    d = tmp_path / "cache"
    _fill(d)
    s = cache_summary(d)
    assert {k: (v["files"], v["bytes"]) for k, v in s.items()} == {
        "teacher": (2, 150),
        "stage1": (1, 30),
        "hardness": (1, 20),
        "partial": (1, 5),
    }
    assert [e.path.name for e in clean_cache(d, kinds=["teacher"], older_than_days=7, dry_run=True)] == [
        "teacher-aaaaaaaaaaaaaaaaaaaa.pt"
    ]
    assert len(cache_entries(d)) == 5  # dry run removed nothing
    assert len(clean_cache(d, kinds=["teacher"], older_than_days=7)) == 1
    assert len(clean_cache(d)) == 4
    assert [p.name for p in d.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="unknown cache kind 'teachers'"):
        clean_cache(d, kinds=["teachers"])
    assert cache_summary(tmp_path / "absent") == {}


def test_cli(tmp_path):
    d = tmp_path / "cache"
    _fill(d)
    r = CliRunner().invoke(app, ["cache", "info", "--cache-dir", str(d), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["kinds"]["teacher"]["files"] == 2
    r = CliRunner().invoke(app, ["cache", "info", "--cache-dir", str(d)])
    assert r.exit_code == 0 and "reused by" in r.output and "stage1" in r.output
    r = CliRunner().invoke(app, ["cache", "clean", "--cache-dir", str(d), "--kind", "stage1"])
    assert r.exit_code == 0 and "removed 1 files" in r.output
    r = CliRunner().invoke(app, ["cache", "clean", "--cache-dir", str(d), "--kind", "everything"])
    assert r.exit_code == 2 and "error: --kind" in r.output
