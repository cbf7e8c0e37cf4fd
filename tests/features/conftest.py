"""Fixtures of these tests: no network, and torch on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.features.offline import block_network, torch_threads


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way out to the network raises; returns the list of attempts (URLs or addresses)."""
    return block_network(monkeypatch)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread (see :func:`tests.features.offline.torch_threads`)."""
    with torch_threads(1):
        yield
