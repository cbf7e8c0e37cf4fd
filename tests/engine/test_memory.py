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
