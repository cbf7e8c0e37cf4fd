"""Fixtures of the texturing tests (helpers in :mod:`tests.texturing.scene`)."""

from __future__ import annotations

import pytest

from .scene import Capture, render, ring, sphere


@pytest.fixture(scope="session")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """A patterned sphere seen by eight cameras on a ring."""
    mesh = sphere(subdivisions=3)
    return Capture(mesh=mesh, views=render(mesh, ring(8), tmp_path_factory.mktemp("photos")))
