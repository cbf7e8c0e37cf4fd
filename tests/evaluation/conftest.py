"""Fixtures of the evaluation tests (helpers in :mod:`tests.evaluation.synthetic`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.evaluation.raycast import MeshRaycaster

from .synthetic import Synthetic, write_sample_scene, write_scene


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    """The synthetic scene, written once per test session."""
    return write_scene(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def sample_scene(synthetic: Synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic scene written in the sample-scene GT layout."""
    return write_sample_scene(synthetic, tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="session")
def gt_depths(synthetic: Synthetic) -> dict[str, np.ndarray]:
    """GT depth of every synthetic view, at full resolution."""
    raycaster = MeshRaycaster([(synthetic.vertices, synthetic.faces)])
    return {n: raycaster.depth(v.camera, v.pose) for n, v in synthetic.gt.views.items()}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark photo sets; tests using them skip when the folder is absent."""
    folder = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder
