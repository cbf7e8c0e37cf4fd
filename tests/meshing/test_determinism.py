"""The same cloud gives the same surface and detail levels, byte for byte, with several workers."""

from __future__ import annotations

import hashlib

import numpy as np

from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing import SurfaceOptions, median_spacing
from photogrammetry.meshing.levels import detail_levels
from photogrammetry.meshing.poisson import poisson

from .conftest import sphere_cloud


def _digest(mesh: MeshData) -> str:
    return hashlib.sha256(np.ascontiguousarray(mesh.vertices).tobytes()
                          + np.ascontiguousarray(mesh.faces).tobytes()).hexdigest()


def _build(workers: int, options: SurfaceOptions) -> list[str]:
    cloud = sphere_cloud(30_000, noise=0.01, seed=3)
    surface = poisson(cloud, [], options, spacing=median_spacing(cloud.points), workers=workers)
    levels = detail_levels(surface, {"small": 4_000, "tiny": 1_000})
    return [_digest(surface), *(_digest(mesh) for mesh, _ in levels.values())]


def test_poisson_and_decimation_give_the_same_bytes_with_several_workers() -> None:
    options = SurfaceOptions(poisson_depth=8)  # poisson_threads=1 by default, whatever the workers
    assert _build(4, options) == _build(4, options) == _build(1, options)
