"""hardymer._memory: glibc's fixed mmap threshold gives freed tensor memory back to the OS."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from hardymer._memory import return_freed_memory

_GLIBC = sys.platform.startswith("linux") and bool(ctypes.util.find_library("c"))

# Free a 4 MiB block (glibc then serves blocks up to 4 MiB from the heap), allocate 60 x 2 MiB,
# keep only the last one: from the heap, the 59 freed blocks below it stay resident.
_PATTERN = """
import os, sys
import numpy as np
if sys.argv[1] == "on":
    from hardymer._memory import return_freed_memory
    assert return_freed_memory(128 * 1024)
def rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
x = np.ones(1 << 19); del x
base = rss_mb()
blocks = [np.ones(1 << 18) for _ in range(60)]
last = blocks[-1]; del blocks
print(rss_mb() - base)
"""


@pytest.mark.skipif(not _GLIBC, reason="needs glibc (Linux): mallopt is glibc's")
def test_freed_blocks_leave_the_process() -> None:
    held = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, "-c", _PATTERN, mode], capture_output=True, text=True, check=True)
        held[mode] = float(out.stdout.split()[-1])
    assert held["off"] > 60  # 59 freed 2 MiB blocks still resident
    assert held["on"] < 20, held  # only the live block (and noise)


@pytest.mark.skipif(not _GLIBC, reason="needs glibc (Linux): mallopt is glibc's")
def test_switches(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert return_freed_memory(0) is False
    monkeypatch.delenv("HARDYMER_MMAP_THRESHOLD", raising=False)
    assert return_freed_memory() is False  # off unless asked for
    monkeypatch.setenv("HARDYMER_MMAP_THRESHOLD", "0")
    assert return_freed_memory() is False
    monkeypatch.setenv("HARDYMER_MMAP_THRESHOLD", "lots")
    assert return_freed_memory() is False
    assert "HARDYMER_MMAP_THRESHOLD='lots'" in caplog.text
    monkeypatch.setenv("HARDYMER_MMAP_THRESHOLD", str(1 << 20))
    assert return_freed_memory() is True
