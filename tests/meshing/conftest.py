"""Fixtures of the meshing tests: oriented clouds on a sphere and cameras around it."""

from __future__ import annotations

from pathlib import Path

import cv2
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


def sphere_masked(views: list[CameraView], folder: Path) -> list[CameraView]:
    """The views with masks of the unit sphere: the pixels whose rays meet it."""
    masked = []
    for view in views:
        cols, rows = np.meshgrid(np.arange(view.width) + 0.5, np.arange(view.height) + 0.5)
        pixels = np.stack([cols, rows, np.ones_like(cols)], axis=-1).reshape(-1, 3)
        rays = pixels @ np.linalg.inv(view.K).T @ view.R  # world directions (R^T K^-1 p)
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        hit = np.linalg.norm(np.cross(view.center, rays), axis=1) <= 1.0
        path = folder / f"{view.name}.png"
        cv2.imwrite(str(path), (255 * hit.reshape(view.height, view.width)).astype(np.uint8))
        masked.append(CameraView(name=view.name, K=view.K, R=view.R, t=view.t, width=view.width,
                                 height=view.height, mask_path=path))
    return masked


@pytest.fixture(scope="session")
def cloud() -> OrientedCloud:
    """A clean oriented unit sphere."""
    return sphere_cloud()


@pytest.fixture(scope="session")
def views() -> list[CameraView]:
    """Eight cameras around the unit sphere."""
    return ring_views()
