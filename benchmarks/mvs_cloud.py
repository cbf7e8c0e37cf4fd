"""A fused cloud of a real set from our own MVS, for the mesh benchmark (sets without a GT mesh).

The depth and fusion stages' code runs on the training views with their GT cameras. MVS
picks its source views and depth ranges from sparse points; here those are points of the
visual hull's surface, each seen by the views whose depth test it passes. (No SfM model
in the GT frame is needed, and nothing of the held-out views is used.)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from photogrammetry.io.depth import load_depth, save_depth_summary
from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing import CameraView, OrientedCloud, read_cloud
from photogrammetry.mvs.multiview import compute_depth
from photogrammetry.mvs.scene import MVSScene, MVSView
from photogrammetry.stages.depth import DepthConfig
from photogrammetry.stages.fusion import FusionConfig, fuse
from photogrammetry.texturing.visibility import MeshScene, view_maps, visible


def hull_points(hull: MeshData, views: list[CameraView], count: int = 20_000,
                seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(P, 3) vertices of the hull and, per view name, the indices of those it sees."""
    rng = np.random.default_rng(seed)
    points = hull.vertices[rng.choice(len(hull.vertices), size=min(count, len(hull.vertices)), replace=False)]
    scene = MeshScene(hull.vertices, hull.faces)
    seen = {view.name: np.flatnonzero(visible(view, view_maps(scene, view, None), points)[2]) for view in views}
    return points, seen


def mvs_cloud(views: list[CameraView], hull: MeshData, out: Path, method: str,
              max_image_size: int = 1024) -> tuple[OrientedCloud, np.ndarray, float]:
    """Depth maps of ``views`` by ``method``, fused into a cloud; with the sparse stand-in points and
    the seconds taken. Masks of the views are honoured, as the depth stage honours the photos'."""
    points, seen = hull_points(hull, views)
    scene = MVSScene(views={v.name: MVSView(name=v.name, image_path=v.image_path, mask_path=v.mask_path, K=v.K,
                                            R=v.R, t=v.t, width=v.width, height=v.height) for v in views},
                     points=points, observations=seen)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    config = DepthConfig(method=method, max_image_size=max_image_size)
    save_depth_summary(out, compute_depth(scene, config, out))
    fuse(FusionConfig(), load_depth(out), out)
    return read_cloud(out / "fused.ply", views), points, time.perf_counter() - start
