"""Fixtures of the MVS tests: small synthetic views, and the committed sample scenes downscaled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.device import torch_threads
from photogrammetry.mvs.scene import MVSScene, MVSView, load_scene

SAMPLE_SCENES = Path(__file__).resolve().parents[2] / "sample_scenes"


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One torch thread: the suite shares two cores, where torch's thread pool slows down badly."""
    with torch_threads(1):
        yield


def look_at(center, target, K: np.ndarray, size: tuple[int, int], name: str) -> MVSView:
    """A view at ``center`` (3,) looking at ``target`` (3,), world +z up, image +y down."""
    center, target = np.asarray(center, float), np.asarray(target, float)
    forward = (target - center) / np.linalg.norm(target - center)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(forward, right), forward])
    return MVSView(name=name, image_path=Path(name), mask_path=None, K=K, R=R, t=-R @ center,
                   width=size[0], height=size[1])


@pytest.fixture
def ring_views() -> list[MVSView]:
    """Eight 64x48 views on a ring of radius 4 around the origin, 45 degrees apart."""
    K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]])
    angles = np.radians(np.arange(8) * 45.0)
    return [look_at([4 * np.cos(a), 4 * np.sin(a), 1.0], [0, 0, 0], K, (64, 48), f"v{i}.png")
            for i, a in enumerate(angles)]


def plane_depth(view: MVSView, normal, offset: float) -> np.ndarray:
    """(H, W) depth of the world plane ``normal . X = offset`` seen by ``view`` (0 where behind)."""
    u, v = np.meshgrid(np.arange(view.width) + 0.5, np.arange(view.height) + 0.5)
    rays_cam = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(view.K).T
    rays = rays_cam @ view.R  # world directions with z-component scaling
    n = np.asarray(normal, float)
    scale = (offset - n @ view.center) / np.where(np.abs(rays @ n) > 1e-9, rays @ n, np.nan)
    return np.where(scale > 0, scale, 0.0).astype(np.float32)


@pytest.fixture(scope="session")
def sample_scene_dir() -> callable:
    """``sample_scene_dir(name)``: folder of a committed sample scene (skips when absent)."""

    def find(name: str) -> Path:
        folder = SAMPLE_SCENES / name
        if not (folder / "gt" / "sparse").is_dir():
            pytest.skip(f"sample scene {folder} not found")
        return folder

    return find


@pytest.fixture(scope="session")
def facade(sample_scene_dir) -> MVSScene:
    """The facade sample scene (12 views, no masks), GT cameras."""
    folder = sample_scene_dir("facade")
    return load_scene(folder / "images", folder / "gt" / "sparse")
