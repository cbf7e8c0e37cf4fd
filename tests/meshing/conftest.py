"""Fixtures of the meshing tests: oriented clouds on a sphere and cameras around it."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.views import CameraView
from tests.texturing.scene import FOCAL, HEIGHT, WIDTH, ring


def sphere_cloud(count: int = 8_000, *, noise: float = 0.0, seed: int = 0, upper_only: bool = False) -> OrientedCloud:
    """Points on the unit sphere (or its upper half) with outward normals and colours."""
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(count, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    if upper_only:
        normals[:, 2] = np.abs(normals[:, 2])
    points = normals * (1.0 + rng.normal(0, noise, (count, 1)))
    return OrientedCloud(points=points, normals=normals, colors=0.5 + 0.5 * normals)


def ring_views(count: int = 8, *, height: float = 1.2) -> list[CameraView]:
    """Cameras (no photos) on a ring of radius 4 around the origin."""
    K = np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]])
    return [CameraView(name=f"v{i}.png", K=K, R=R, t=t, width=WIDTH, height=HEIGHT)
            for i, (R, t) in enumerate(ring(count, height=height))]


@pytest.fixture(scope="session")
def cloud() -> OrientedCloud:
    """A clean oriented unit sphere."""
    return sphere_cloud()


@pytest.fixture(scope="session")
def views() -> list[CameraView]:
    """Eight cameras around the unit sphere."""
    return ring_views()
