"""One entry point: evaluate whatever parts of a reconstruction are given against ground truth."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photogrammetry.evaluation.depth_metrics import DepthEvalConfig, DepthMetrics, evaluate_depth, find_depth_maps
from photogrammetry.evaluation.geometry_metrics import (
    GeometryEvalConfig,
    GeometryMetrics,
    evaluate_geometry,
    read_points,
)
from photogrammetry.evaluation.ground_truth import GroundTruth, bbox_diagonal
from photogrammetry.evaluation.observability import Observers
from photogrammetry.evaluation.pose_metrics import (
    PoseEvalConfig,
    PoseLike,
    PoseMetrics,
    estimated_poses,
    evaluate_poses,
)
from photogrammetry.evaluation.raycast import read_mesh
from photogrammetry.evaluation.report import EvalReport
from photogrammetry.evaluation.similarity import Sim3
from photogrammetry.evaluation.texture_metrics import TextureEvalConfig, TextureMetrics, evaluate_texture
from photogrammetry.evaluation.texture_render import load_textured_mesh

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, eq=False)
class Estimate:
    """The outputs of a reconstruction to evaluate; every part is optional."""

    cameras: Mapping[str, PoseLike] | None = None
    """Estimated ``cam_from_world`` poses by image name (wins over ``sparse_model``)."""
    sparse_model: Path | None = None
    """COLMAP model folder (text or binary) with the estimated poses."""
    depth_maps: Mapping[str, np.ndarray] | None = None
    """(H, W) float depth maps by image name, in the estimate's units; 0 / NaN = invalid."""
    depth_dir: Path | None = None
    """Folder of depth files (``<name>.npy``, ``<stem>.npy``, COLMAP ``<name>.geometric.bin``)."""
    points_path: Path | None = None
    """Dense point cloud (PLY)."""
    mesh_path: Path | None = None
    """Reconstructed mesh (PLY, OBJ, GLB), evaluated as geometry."""
    textured_mesh_path: Path | None = None
    """Textured mesh (GLB, OBJ + MTL), rendered into GT views."""
    to_gt: Sim3 | None = None
    """Transform from the estimate's frame to GT; default: the Sim3 fitted on the cameras."""


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Settings of every metric."""

    poses: PoseEvalConfig = field(default_factory=PoseEvalConfig)
    """Pose evaluation settings."""
    depth: DepthEvalConfig = field(default_factory=DepthEvalConfig)
    """Depth evaluation settings."""
    geometry: GeometryEvalConfig = field(default_factory=GeometryEvalConfig)
    """Point cloud and mesh evaluation settings."""
    texture: TextureEvalConfig = field(default_factory=TextureEvalConfig)
    """Texture evaluation settings."""


def _poses(estimate: Estimate, gt: GroundTruth, holdout: Sequence[str], config: PoseEvalConfig) -> PoseMetrics | None:
    """Pose metrics when the estimate has cameras."""
    source = estimate.cameras if estimate.cameras is not None else estimate.sparse_model
    if source is None:
        return None
    return evaluate_poses(estimated_poses(source), gt, exclude=holdout, config=config)


def _depth(
    estimate: Estimate, gt: GroundTruth, holdout: Sequence[str], scale: float, config: DepthEvalConfig
) -> DepthMetrics | None:
    """Depth metrics when the estimate has depth maps."""
    maps: dict = {}
    if estimate.depth_dir is not None:
        maps.update(find_depth_maps(Path(estimate.depth_dir), gt.names))
    maps.update(estimate.depth_maps or {})
    held_out = set(holdout)
    maps = {name: value for name, value in maps.items() if name not in held_out}
    if not maps:
        if estimate.depth_dir is not None or estimate.depth_maps:
            logger.warning("no estimated depth map matches a GT view")
        return None
    return evaluate_depth(maps, gt, scale=scale, config=config)


@dataclass(frozen=True, kw_only=True, eq=False)
class _GTSurfaces:
    """The GT meshes of the geometry metrics, read once for both the points and the mesh."""

    target: tuple[np.ndarray, np.ndarray]
    """Vertices and faces evaluated against: the object's mesh on object scenes, else the scene's."""
    scene: tuple[np.ndarray, np.ndarray] | None
    """The whole scene's mesh, when there is one."""
    is_object: bool
    """Whether ``target`` is an object's mesh."""
    observers: Observers | None
    """The views not held out, for completeness over the observed surface (``None``: all of it)."""


def _gt_surfaces(gt: GroundTruth, holdout: Sequence[str], config: GeometryEvalConfig) -> _GTSurfaces | None:
    """The GT meshes, or ``None`` when the ground truth has none."""
    if gt.object_mesh_path is None and gt.scene_mesh_path is None:
        return None
    scene = read_mesh(gt.scene_mesh_path) if gt.scene_mesh_path is not None else None
    target = read_mesh(gt.object_mesh_path) if gt.object_mesh_path is not None else scene
    occluders = scene if scene is not None else target  # the mesh that renders GT depth
    observers = Observers.from_ground_truth(gt, occluders, exclude=holdout) if config.min_views > 0 else None
    return _GTSurfaces(target=target, scene=scene, is_object=gt.object_mesh_path is not None, observers=observers)


def _geometry(path: Path | None, gt: GroundTruth, surfaces: _GTSurfaces | None, to_gt: Sim3,
              config: GeometryEvalConfig) -> GeometryMetrics | None:
    """Point cloud or mesh metrics.

    Object scenes: against the object mesh, points cropped to the object's box, thresholds
    relative to the object's extent; points on the scene around the object (the table under it)
    count as accurate, not as errors. Otherwise: against the scene mesh and the scene extent.
    Completeness counts the GT surface that the views not held out observed.
    """
    if path is None:
        return None
    if surfaces is None:
        logger.warning("ground truth has no mesh: %s not evaluated", path)
        return None
    vertices, faces = surfaces.target
    if not surfaces.is_object:
        points = read_points(path, mesh_samples=config.max_points, seed=config.seed, transform=to_gt.apply)
        return evaluate_geometry(points, vertices, faces, extent=gt.extent, target="scene", config=config,
                                 observers=surfaces.observers)
    bbox = np.stack([vertices.min(axis=0), vertices.max(axis=0)])
    extent = bbox_diagonal(bbox)
    points = read_points(path, mesh_samples=config.max_points, seed=config.seed, transform=to_gt.apply,
                         box=(bbox, config.crop_margin * extent))
    if len(points) == 0:
        logger.warning("%s: no point lies near the object; not evaluated", path)
        return None
    return evaluate_geometry(points, vertices, faces, extent=extent, target="object", config=config,
                             observers=surfaces.observers, surroundings=surfaces.scene)


def _texture(
    estimate: Estimate, gt: GroundTruth, holdout: Sequence[str], to_gt: Sim3, config: TextureEvalConfig
) -> TextureMetrics | None:
    """Texture metrics in the held-out views (all GT views when none is held out)."""
    if estimate.textured_mesh_path is None:
        return None
    mesh = load_textured_mesh(estimate.textured_mesh_path).transformed(to_gt)
    return evaluate_texture(mesh, gt, list(holdout) or gt.names, config=config)


def evaluate(
    estimate: Estimate,
    gt: GroundTruth,
    *,
    holdout: Sequence[str] = (),
    config: EvalConfig | None = None,
) -> EvalReport:
    """Evaluate every part of ``estimate`` that is present against ``gt``.

    Poses are aligned to GT with a Sim3 (unless ``estimate.to_gt`` is given), which then maps
    depth (its scale), points and meshes into the GT frame. Without either, the estimate is
    taken to be in the GT frame already.

    Args:
        estimate: the reconstruction's outputs.
        gt: the ground truth.
        holdout: GT views kept out of the reconstruction: excluded from pose and depth
            metrics, and the only views the texture is evaluated in.
        config: settings of the metrics (default: :class:`EvalConfig`).

    Raises:
        ValueError: when a held-out view is not in the ground truth.
    """
    config = config or EvalConfig()
    unknown = sorted(set(holdout) - set(gt.views))
    if unknown:
        raise ValueError(f"held-out views not in the ground truth: {unknown}")
    poses = _poses(estimate, gt, holdout, config.poses)
    to_gt = estimate.to_gt or (poses.alignment if poses is not None else None)
    if to_gt is None:
        logger.warning("no transform to the GT frame: the estimate is assumed to be in it")
        to_gt = Sim3()
    has_geometry = estimate.points_path is not None or estimate.mesh_path is not None
    surfaces = _gt_surfaces(gt, holdout, config.geometry) if has_geometry else None
    return EvalReport(
        gt_kind=gt.kind,
        extent=gt.extent,
        holdout=tuple(holdout),
        poses=poses,
        depth=_depth(estimate, gt, holdout, to_gt.scale, config.depth),
        points=_geometry(estimate.points_path, gt, surfaces, to_gt, config.geometry),
        mesh=_geometry(estimate.mesh_path, gt, surfaces, to_gt, config.geometry),
        texture=_texture(estimate, gt, holdout, to_gt, config.texture),
    )
