"""Dense geometry accuracy: points or a mesh against the GT mesh (precision, recall, F-score).

Accuracy is the exact distance from each estimated point to the GT surface; completeness is
the distance from points sampled uniformly on the GT surface to the nearest estimated point,
counted where at least two views observe that surface when the views are given
(:mod:`~photogrammetry.evaluation.observability`). Both sides are subsampled to bounded
counts so that an evaluation takes seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open3d as o3d
from scipy.spatial import cKDTree

from photogrammetry.errors import InputError
from photogrammetry.evaluation.observability import Observers, observation_counts

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class GeometryEvalConfig:
    """Settings of the dense geometry evaluation."""

    thresholds: tuple[float, ...] = (0.005, 0.01, 0.02)
    """Distance thresholds of precision / recall / F-score, relative to the reference extent
    (the object's for object scenes, else the scene's)."""
    max_points: int = 300_000
    """Estimated points kept (random subsample); a mesh estimate is sampled with this many."""
    gt_samples: int = 300_000
    """Points sampled on the GT surface for completeness."""
    crop_margin: float = 0.05
    """Object scenes: estimated points farther than this (relative to the object's extent)
    outside the object's bounding box are dropped before the evaluation."""
    seed: int = 0
    """Seed of the subsampling and surface sampling."""
    min_views: int = 2
    """Completeness counts only GT surface that at least this many views saw (in frame,
    unoccluded; :mod:`~photogrammetry.evaluation.observability`), when the views are given:
    multi-view stereo needs two. 0 counts the whole GT surface."""


@dataclass(frozen=True, kw_only=True)
class GeometryMetrics:
    """Accuracy and completeness of dense geometry; distances relative to ``extent``."""

    target: str
    """What the GT surface is: ``"object"`` (object mesh) or ``"scene"`` (scene mesh)."""
    extent: float
    """Reference extent (GT units) that thresholds and distances are relative to."""

    precision: dict[float, float]
    """Fraction of estimated points within each threshold of the GT surface."""
    recall: dict[float, float]
    """Fraction of GT surface samples within each threshold of an estimated point."""
    fscore: dict[float, float]
    """Harmonic mean of precision and recall, by threshold."""
    accuracy_mean: float
    """Mean distance estimate -> GT."""
    accuracy_median: float
    """Median distance estimate -> GT."""
    completeness_mean: float
    """Mean distance GT -> estimate."""
    completeness_median: float
    """Median distance GT -> estimate."""
    num_points: int
    """Estimated points evaluated (after cropping and subsampling)."""
    num_gt_samples: int
    """GT surface samples that completeness counts (the observed ones)."""
    observed_fraction: float = 1.0
    """Fraction of the GT surface (by area) that enough views observed; 1 when not tested."""


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, *, seed: int = 0) -> np.ndarray:
    """Sample points uniformly by area on a triangle mesh.

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices.
        count: number of points.
        seed: random seed.

    Returns:
        (count, 3) points.
    """
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    areas = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    if not areas.sum() > 0:
        raise ValueError("mesh has no area to sample")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(faces), size=count, p=areas / areas.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    weights = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    return np.einsum("nk,nkd->nd", weights, corners[face])


def read_points(path: Path, *, mesh_samples: int = 300_000, seed: int = 0,
                transform: Callable[[np.ndarray], np.ndarray] | None = None,
                box: tuple[np.ndarray, float] | None = None) -> np.ndarray:
    """Points of a point cloud file, or points sampled on a mesh file.

    A file with triangles (PLY, OBJ, GLB, ...) is treated as a mesh and sampled; otherwise
    its vertices are the points.

    Args:
        path: The file.
        mesh_samples: Points sampled on a mesh.
        seed: Seed of the sampling.
        transform: Maps (N, 3) points into the frame the result is wanted in (e.g. the GT's).
        box: ``(bbox (2, 3), margin)`` in that frame: only points inside the grown box are kept,
            and a mesh is sampled only on its faces that touch the box, so that all samples
            land where they are evaluated (a room-sized mesh around a small object).

    Returns:
        (N, 3) float64 points.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    move = transform or (lambda x: x)
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):  # point clouds warn
        mesh = o3d.io.read_triangle_mesh(str(path))
    if len(mesh.triangles) > 0:
        vertices, faces = move(np.asarray(mesh.vertices, dtype=np.float64)), np.asarray(mesh.triangles)
        if box is not None:
            faces = faces[_inside(vertices, *box)[faces].any(axis=1)]
            if len(faces) == 0:
                return np.zeros((0, 3))
        points = sample_surface(vertices, faces, mesh_samples, seed=seed)
    else:
        points = move(np.asarray(o3d.io.read_point_cloud(str(path)).points, dtype=np.float64))
        if len(points) == 0:
            raise InputError(f"{path}: no points could be read")
    return points if box is None else points[_inside(points, *box)]


def _inside(points: np.ndarray, bbox: np.ndarray, margin: float) -> np.ndarray:
    """(N,) whether points (N, 3) lie inside the box (2, 3) grown by ``margin``."""
    return np.all((points >= bbox[0] - margin) & (points <= bbox[1] + margin), axis=1)


def _subsample(points: np.ndarray, count: int, seed: int) -> np.ndarray:
    """At most ``count`` rows of ``points`` (N, 3), chosen at random without replacement."""
    if len(points) <= count:
        return points
    return points[np.random.default_rng(seed).choice(len(points), size=count, replace=False)]


def _distances_to_mesh(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N,) exact distances from points (N, 3) to the mesh surface."""
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    query = o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
    return scene.compute_distance(query).numpy().astype(np.float64)


def crop_to_box(points: np.ndarray, bbox: np.ndarray, margin: float) -> np.ndarray:
    """Points (N, 3) inside the box (2, 3) grown by ``margin`` on every side."""
    return points[_inside(points, bbox, margin)]


def evaluate_geometry(
    points: np.ndarray,
    gt_vertices: np.ndarray,
    gt_faces: np.ndarray,
    *,
    extent: float,
    target: str = "scene",
    config: GeometryEvalConfig | None = None,
    observers: Observers | None = None,
    surroundings: tuple[np.ndarray, np.ndarray] | None = None,
) -> GeometryMetrics:
    """Compare estimated points, already in the GT frame, with the GT mesh.

    Args:
        points: (N, 3) estimated points in GT coordinates (crop them beforehand if needed).
        gt_vertices: (V, 3) GT mesh vertices.
        gt_faces: (F, 3) GT mesh faces.
        extent: reference extent; thresholds and distances are relative to it.
        target: what the GT mesh is (``"object"`` or ``"scene"``), recorded in the result.
        config: settings (default: :class:`GeometryEvalConfig`).
        observers: the views that photographed the scene: completeness then counts only the
            GT surface that ``config.min_views`` of them observed.
        surroundings: GT surfaces around the target (vertices, faces), e.g. the scene around
            an object: an estimated point on them is accurate too (the table top under a vase
            is not an error), though completeness counts only the target.

    Raises:
        ValueError: without estimated points, or when no GT sample is observed.
    """
    config = config or GeometryEvalConfig()
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise ValueError("no estimated points to evaluate")
    points = _subsample(points, config.max_points, config.seed)
    gt_points = sample_surface(gt_vertices, gt_faces, config.gt_samples, seed=config.seed + 1)
    observed_fraction = 1.0
    if observers is not None and config.min_views > 0:
        observed = observation_counts(gt_points, observers) >= config.min_views
        if not observed.any():
            raise ValueError(f"no GT surface is seen by {config.min_views} views")
        observed_fraction, gt_points = float(observed.mean()), gt_points[observed]
    accuracy = _distances_to_mesh(points, gt_vertices, gt_faces) / extent
    if surroundings is not None:
        accuracy = np.minimum(accuracy, _distances_to_mesh(points, *surroundings) / extent)
    completeness = cKDTree(points).query(gt_points, workers=-1)[0] / extent
    precision = {t: float(np.mean(accuracy <= t)) for t in config.thresholds}
    recall = {t: float(np.mean(completeness <= t)) for t in config.thresholds}
    fscore = {
        t: 2 * precision[t] * recall[t] / (precision[t] + recall[t]) if precision[t] + recall[t] > 0 else 0.0
        for t in config.thresholds
    }
    return GeometryMetrics(
        target=target,
        extent=extent,
        precision=precision,
        recall=recall,
        fscore=fscore,
        accuracy_mean=float(accuracy.mean()),
        accuracy_median=float(np.median(accuracy)),
        completeness_mean=float(completeness.mean()),
        completeness_median=float(np.median(completeness)),
        num_points=len(points),
        num_gt_samples=len(gt_points),
        observed_fraction=observed_fraction,
    )
