"""Fusion: the filtered depth maps into one coloured point cloud with normals (PLY).

``points`` (default) turns every kept depth into a world point with its image colour and
normal and averages the points sharing a voxel (about one pixel's footprint); ``tsdf``
integrates the maps into open3d's ``VoxelBlockGrid`` (on CUDA when open3d has it) and writes its
surface points plus ``tsdf_mesh.ply``. ``fusion.json`` states the units of the depth artifact.
With ``points``, ``fused.ply.vis`` beside the cloud lists the views each point came from, as
COLMAP's fusion writes it (indices of COLMAP's MVS model of the depth artifact's ``colmap/``
workspace), so COLMAP's ``delaunay_mesher`` can mesh it; a TSDF's surface points have no views.
Layout in :mod:`photogrammetry.io.fusion`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.io import colmap_dense
from photogrammetry.io.depth import DepthResult, load_array
from photogrammetry.io.fusion import (FusionSummary, load_fusion, save_fusion_summary, write_colored_mesh,
                                      write_point_ply)
from photogrammetry.mvs.tsdf import TSDFOptions


@dataclass(frozen=True, kw_only=True)
class FusionConfig:
    """Settings of the fusion stage."""

    method: Literal["points", "tsdf"] = "points"
    """``points``: merge back-projected depths per voxel; ``tsdf``: open3d TSDF volume (also a mesh)."""
    voxel_size: float = 0.0
    """Voxel size in model units; 0: derived from the maps (see ``voxel_factor``)."""
    voxel_factor: float = 1.0
    """``points``: the derived voxel is this many pixel footprints at the median depth;
    ``tsdf``: this many times 1.5 footprints."""
    tsdf: TSDFOptions = field(default_factory=TSDFOptions)
    """``tsdf``: the volume's settings."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        "method": "method", "voxel_size": "voxel_size", "voxel_factor": "voxel_factor",
        "tsdf.truncation_voxels": "tsdf_truncation_voxels", "tsdf.min_views": "tsdf_min_views"}
    """The flat names these options had in the cache key before they were nested (stage version 1)."""

    def __post_init__(self) -> None:
        if self.voxel_size < 0 or self.voxel_factor <= 0:
            raise ConfigError("fusion.voxel_size must be >= 0 and fusion.voxel_factor > 0")


def view_maps(depth: DepthResult) -> Iterator[Any]:
    """Each view's filtered maps and colours, one at a time (bounded memory)."""
    from photogrammetry.mvs.fusion import ViewMaps
    from photogrammetry.mvs.multiview import read_image
    from photogrammetry.mvs.scene import MVSView

    for view in depth.summary.views:
        K, R, t = np.array(view.K), np.array(view.R), np.array(view.t)
        image = MVSView(name=view.name, image_path=depth.image_path(view), mask_path=None, K=K, R=R, t=t,
                        width=view.width, height=view.height)
        yield ViewMaps(depth=load_array(depth.depth_path(view.name)),
                       normals=load_array(depth.normal_path(view.name)).astype(np.float32),
                       rgb=read_image(image), K=K, R=R, t=t)


def median_footprint(depth: DepthResult) -> float:
    """Median over views of one pixel's size at the view's median kept depth (0 without depths)."""
    footprints = []
    for view in depth.summary.views:
        kept = load_array(depth.depth_path(view.name))
        kept = kept[kept > 0]
        if len(kept):
            footprints.append(float(np.median(kept)) / view.K[0][0])
    return float(np.median(footprints)) if footprints else 0.0


def fuse(config: FusionConfig, depth: DepthResult, out: Path, device: str = "cpu") -> FusionSummary:
    """Fuse the maps of ``depth`` into ``out`` (``fused.ply``, and ``tsdf_mesh.ply`` for ``tsdf``)."""
    from photogrammetry.mvs.fusion import fuse_points

    if config.method == "points":
        cloud, voxel = fuse_points(view_maps(depth), config.voxel_size, config.voxel_factor)
        summary = FusionSummary(method="points", points=len(cloud), voxel_size=voxel)
    else:
        voxel = config.voxel_size or 1.5 * config.voxel_factor * median_footprint(depth)
        cloud, triangles = _tsdf(config, depth, out, voxel, device)
        summary = FusionSummary(method="tsdf", points=len(cloud), voxel_size=voxel, mesh_triangles=triangles,
                                device=device)
    if len(cloud) == 0:
        raise StageError("fusion produced no point: no depth survived filtering; check the depth stage's "
                         "mean_kept count, or loosen depth.filtering.min_consistent_views")
    write_point_ply(out / "fused.ply", cloud.points, cloud.normals, cloud.colors)
    if cloud.seen_by is not None and (depth.root / colmap_dense.WORKSPACE / "sparse").is_dir():
        write_visibility(out / "fused.ply.vis", cloud.seen_by, depth)  # maps made outside the depth stage have none
    return summary


def write_visibility(path: Path, seen_by: tuple[np.ndarray, np.ndarray], depth: DepthResult) -> None:
    """``fused.ply.vis`` from the views' positions in ``depth.summary.views`` (COLMAP's MVS image indices)."""
    import pycolmap

    model = pycolmap.MVSModel()
    model.read_from_colmap(depth.root / colmap_dense.WORKSPACE)
    index = np.array([model.get_image_idx(view.name) for view in depth.summary.views], dtype=np.int64)
    counts, views = seen_by
    colmap_dense.write_visibility(path, counts, index[views])


def _tsdf(config: FusionConfig, depth: DepthResult, out: Path, voxel: float, device: str) -> tuple[Any, int]:
    from photogrammetry.mvs.tsdf import integrate

    if voxel <= 0:
        return integrate([], config.tsdf, voxel_size=1.0).cloud, 0
    result = integrate(view_maps(depth), config.tsdf, voxel, device)
    if len(result.triangles):
        write_colored_mesh(out / "tsdf_mesh.ply", result.vertices, result.triangles, result.vertex_colors)
    return result.cloud, len(result.triangles)


def run(config: FusionConfig, ctx: StageContext, *, depth: DepthResult) -> dict[str, Any]:
    """Fuse the depth stage's maps into ``ctx.out``."""
    with ctx.heartbeat(f"{config.method} fusion of {len(depth.summary.views)} depth maps"):
        summary = replace(fuse(config, depth, ctx.out, ctx.device), units=depth.summary.units)
    save_fusion_summary(ctx.out, summary)
    return {"points": summary.points, "triangles": summary.mesh_triangles}


STAGE = StageSpec(
    name="fusion",
    version=2,  # 2: fused.ply.vis
    config=FusionConfig,
    run=run,
    load=load_fusion,
    requires=("depth",),
    outputs={"fused_points": "fused.ply"},  # and fused.ply.vis with the method points
    cost=Cost(unit="view", seconds=0.3, units_from="sfm.registered"),
    summary="Fuse the depth maps into a coloured point cloud with normals (or a TSDF).",
)
