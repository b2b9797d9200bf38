"""Opt-in: give freed tensor memory back to the OS (glibc), a fixed mmap threshold for large blocks.

glibc serves a block of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start) with its own
``mmap``, unmapped on free. After the first such block is freed it raises the threshold
dynamically (up to 32 MiB), so tensors of a few MiB then come from the heap, and a freed heap
region stays resident while anything above it is live: after a few stage-2 steps the process
holds the peak of every step's activations at once. Setting the threshold explicitly turns the
dynamic raise off. The price is a fresh, zero-filled mapping for every large tensor: on
``hardymer train`` (CMU-MOSI) peak RSS falls by about a quarter and system CPU time rises several
fold (figures in ``benchmarks/README.md``), hence it is off unless asked for.

The entry points (the ``hardymer`` command and the bench workers) call
:func:`return_freed_memory`, which acts only when ``HARDYMER_MMAP_THRESHOLD`` gives a threshold in
bytes (e.g. ``131072``; unset or ``0``: glibc's behaviour). Importing the library changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def return_freed_memory(threshold: int | None = None) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes (default: ``HARDYMER_MMAP_THRESHOLD``,
    unset = off); True when it was set, False when off or where there is no glibc."""
    if threshold is None:
        raw = os.environ.get("HARDYMER_MMAP_THRESHOLD", "").strip()
        try:
            threshold = int(raw) if raw else 0
        except ValueError:
            log.warning("HARDYMER_MMAP_THRESHOLD=%r is not a whole number of bytes; ignored", raw)
            threshold = 0
    if threshold <= 0:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt, Windows)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(min(threshold, 2**31 - 1))))
