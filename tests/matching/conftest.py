"""Fixtures of these tests: no network, and torch on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from photogrammetry.device import torch_threads
from tests.features.offline import block_network


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way out to the network raises; returns the list of attempts (URLs or addresses)."""
    return block_network(monkeypatch)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread: on a small shared machine two torch threads wait for each other at every
    operation, and LightGlue runs several times slower (only speed changes)."""
    with torch_threads(1):
        yield
