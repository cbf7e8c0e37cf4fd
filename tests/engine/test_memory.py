"""Freed heap memory given back to the system by glibc's ``malloc_trim``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from photogrammetry.engine import memory


def _resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_trim_gives_back_the_heap_that_a_live_block_above_it_pins():
    if memory._libc() is None:
        pytest.skip("glibc only")
    blocks = [np.ones(100_000 // 8) for _ in range(1000)]  # 100 KB each: on the heap, not mapped
    pin = np.ones(100_000 // 8)  # above them: the heap's top cannot shrink below it
    del blocks
    freed = _resident_mb()
    assert memory.trim()
    assert pin.sum() > 0
    assert freed > _resident_mb() + 50  # about 95 MB kept by free(), given back by trim


def test_the_trimmer_trims_once_the_process_grew_over_the_first_item(monkeypatch):
    """The level is what the process holds after the first item since the last trim; the trimmer
    trims when an item leaves it more than ``slack`` over, and starts a new level after."""
    if memory._libc() is None:
        pytest.skip("glibc only")
    held = iter([500, 520, 563, 565, 600, 610, 640])
    monkeypatch.setattr(memory, "resident", lambda: next(held) * 2**20)
    trims = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(True) or True)
    trimmer = memory.Trimmer(slack=64 * 2**20)
    for _ in range(4):
        trimmer.item_done()  # 500 is the level; 520, 563 stay within it; 565 is over
    assert len(trims) == 1 and trimmer.level is None
    for _ in range(3):
        trimmer.item_done()  # 600 is the new level; 610, 640 stay within it
    assert len(trims) == 1 and trimmer.level == 600 * 2**20
