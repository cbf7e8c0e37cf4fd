"""Mesh: a watertight-where-seen surface from the fused point cloud, cleaned, cropped, in detail levels.

Steps: read the fused cloud (normals estimated when missing); crop it to the object (masks
carve it to their visual hull; else a box around the SfM points); build the surface with a mesher of
:data:`photogrammetry.meshing.MESHERS` (screened Poisson with density trimming, or TSDF
marching cubes); crop the surface the same way (with masks, vertices a little outside the hull
are pulled back onto it instead); keep the main components (floaters and
small islands go), fill small holes; with masks, move the contours onto the masks' outlines
(:mod:`photogrammetry.meshing.silhouette`); decimate to the detail levels ``preview`` / ``reduced``
/ ``medium`` / ``full`` (about 25k / 50k / 100k / 250k triangles) besides ``raw``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.depth import FusionResult
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import MeshData, MeshInfo, Units, load_mesh_result, write_ply
from photogrammetry.io.sfm import UndistortResult
from photogrammetry.meshing import (
    MESHERS,
    CameraView,
    OrientedCloud,
    SurfaceOptions,
    clean,
    colmap_points,
    detail_levels,
    load_colmap_views,
    median_spacing,
    mesher_spec,
    read_cloud,
)
from photogrammetry.meshing.crop import carve, inside_box, pull_inside, robust_box
from photogrammetry.meshing.poisson import remove_vertices
from photogrammetry.meshing.silhouette import SilhouetteOptions, fit_silhouettes


@dataclass(frozen=True, kw_only=True)
class MeshConfig:
    """Settings of the mesh stage."""

    method: str = "poisson"
    """Mesher, one of :data:`photogrammetry.meshing.MESHERS`: ``poisson`` or ``tsdf``."""
    poisson_depth: int = 0
    """Poisson octree depth (5..12); 0 picks it from the point spacing."""
    point_weight: float = 4.0
    """Poisson screening weight: how closely the surface follows the points."""
    density_quantile: float = 0.03
    """Poisson trimming: vertices in this lowest quantile of density are removed (0..0.5)."""
    max_distance: float = 2.0
    """Vertices farther from the cloud than this many local spacings (distance from the nearest
    point to its 8th neighbour, which grows with sparsity and noise) are removed (0: keep)."""
    voxel_size: float = 0.0
    """TSDF voxel size in scene units; 0 means 1.5 point spacings."""
    crop: Literal["auto", "masks", "box", "none"] = "auto"
    """``masks``: carve with the photos' masks; ``box``: a box around the SfM points;
    ``auto``: masks when the photos have them, else the box; ``none``: no cropping."""
    mask_margin: int = 2
    """Masks carve what lies more than this many pixels outside them (calibration and mask-edge
    tolerance)."""
    mask_tolerance: float = 0.0
    """Fraction of the masked photos that may show a kept point on the background; 0 keeps the
    masks' visual hull. Raise it (0.1-0.2) when some masks miss parts of the object."""
    mask_pull: float = 8.0
    """Surface vertices outside the masks' hull are moved inwards along their normals onto it, by
    up to this many point spacings; those farther out (or 0) are removed with their faces."""
    trim_with_masks: bool = False
    """When the masks carve the surface, also trim it by density and distance; off, the masks
    alone bound it and parts no photo sees (the base) stay closed, as in Object Capture."""
    box_margin: float = 0.1
    """Growth of the SfM-point box on every side, relative to its diagonal."""
    min_component: float = 0.05
    """Connected pieces smaller than this fraction of the largest one's area are removed."""
    max_components: int = 0
    """Keep at most this many of the largest pieces; 0 keeps every piece big enough."""
    hole_radius: float = 0.03
    """Holes up to this radius, relative to the mesh's bounding-box diagonal, are filled."""
    silhouette_band: float = 2.0
    """With masks: the mesh's contour vertices projecting up to this many pixels inside a mask's
    outline are moved onto it (Poisson rounds sharp edges, MVS thins out at grazing angles:
    new views would show a line of background along the object); 0 leaves the mesh as is."""
    silhouette_iterations: int = 3
    """Passes of the silhouette fit (each finds the contours again)."""

    def __post_init__(self) -> None:
        if self.method not in MESHERS:
            raise ConfigError(f"mesh.method must be one of {', '.join(MESHERS)}, got {self.method!r}")
        if self.poisson_depth and not 5 <= self.poisson_depth <= 12:
            raise ConfigError(f"mesh.poisson_depth must be 0 (auto) or within 5..12, got {self.poisson_depth}")
        if not 0 <= self.density_quantile < 0.5:
            raise ConfigError(f"mesh.density_quantile must be within [0, 0.5), got {self.density_quantile}")
        if min(self.max_distance, self.voxel_size, self.box_margin, self.min_component, self.hole_radius,
               self.silhouette_band, self.silhouette_iterations, self.mask_margin, self.mask_tolerance,
               self.mask_pull) < 0:
            raise ConfigError("mesh distances, margins and fractions must not be negative")
        if self.mask_tolerance > 1:
            raise ConfigError(f"mesh.mask_tolerance is a fraction of the photos (0..1), got {self.mask_tolerance}")


@dataclass(frozen=True, kw_only=True, eq=False)
class MeshBuild:
    """The output of :func:`build_mesh`."""

    raw: MeshData
    """The cleaned, cropped mesh at full resolution."""
    levels: dict[str, MeshData]
    """Decimated detail levels by name."""
    seconds: dict[str, float]
    """Time of each step and level."""
    box: np.ndarray | None
    """(2, 3) crop box, if the box was used."""


def _crop_filter(config: MeshConfig, views: Sequence[CameraView], sparse_points: np.ndarray | None):
    """A function (N, 3) points -> (N,) bool keep, the crop mode used and its box (or ``None``)."""
    has_masks = any(v.mask_path is not None for v in views)
    mode = config.crop
    if mode == "masks" and not has_masks:
        raise InputError("mesh.crop = masks, but the photos have no masks; use auto or box")
    if mode == "auto":
        mode = "masks" if has_masks else "box"
    if mode == "box" and sparse_points is not None and len(sparse_points) >= 10:
        box = robust_box(sparse_points, margin=config.box_margin)
        return (lambda points: inside_box(points, box)), mode, box
    if mode == "masks":
        return (lambda points: carve(points, views, margin_px=config.mask_margin,
                                     tolerance=config.mask_tolerance)), mode, None
    return (lambda points: np.ones(len(points), dtype=bool)), "none", None


def build_mesh(config: MeshConfig, cloud: OrientedCloud, views: Sequence[CameraView],
               sparse_points: np.ndarray | None, *, workers: int = 1, log: Any = None) -> MeshBuild:
    """Crop, mesh, crop, clean and decimate (see the module docstring).

    Args:
        config: Settings.
        cloud: The fused oriented point cloud.
        views: The undistorted photos' cameras (and masks).
        sparse_points: (N, 3) SfM points, for the crop box.
        workers: Threads for the mesher.
        log: Logger for progress lines (optional).
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    keep, mode, box = _crop_filter(config, views, sparse_points)
    cloud = cloud.subset(keep(cloud.points))
    if len(cloud) < 100:
        raise InputError(f"only {len(cloud)} fused points lie in the crop region; try mesh.crop = none")
    spacing = median_spacing(cloud.points)
    trim = mode != "masks" or config.trim_with_masks
    options = SurfaceOptions(spacing=spacing, poisson_depth=config.poisson_depth,
                             poisson_point_weight=config.point_weight,
                             density_quantile=config.density_quantile if trim else 0.0,
                             max_distance=config.max_distance if trim else 0.0, voxel_size=config.voxel_size,
                             workers=workers)
    surface = mesher_spec(config.method).build(cloud, views, options)
    seconds["surface"] = time.perf_counter() - start
    start = time.perf_counter()
    if mode == "masks":
        steps = math.ceil(2 * config.mask_pull)  # positions half a spacing apart
        surface = pull_inside(surface, keep, step=0.5 * spacing, steps=steps)
    else:
        surface = remove_vertices(surface, ~keep(surface.vertices))
    if len(surface.faces) == 0:
        raise InputError("the surface lies outside the crop region; try mesh.crop = none")
    diagonal = float(np.linalg.norm(np.ptp(surface.vertices, axis=0)))
    raw = clean(surface, min_component_fraction=config.min_component, max_components=config.max_components,
                hole_radius=config.hole_radius * diagonal)
    seconds["cleanup"] = time.perf_counter() - start
    if mode == "masks" and config.silhouette_band > 0 and config.silhouette_iterations > 0:
        start = time.perf_counter()
        options = SilhouetteOptions(band=config.silhouette_band, iterations=config.silhouette_iterations)
        raw = fit_silhouettes(raw, views, spacing, options)
        seconds["silhouette"] = time.perf_counter() - start
    if log is not None:
        log.info("%s surface: %d points (spacing %.3g) -> %d triangles after cleanup", config.method,
                 len(cloud), spacing, len(raw.faces))
    levels = {}
    for name, (mesh, took) in detail_levels(raw).items():
        levels[name], seconds[f"level_{name}"] = mesh, took
    return MeshBuild(raw=raw, levels=levels, seconds={k: round(v, 3) for k, v in seconds.items()}, box=box)


def upstream_inputs(fusion: FusionResult, undistort: UndistortResult) -> tuple[Path, Path, Path, Path | None, Units]:
    """Fused cloud, undistorted model and photos, masks folder (or ``None``) and units.

    Masks are the undistorted ones in ``<undistort>/masks`` (written when ingest had masks).
    Units are metres only when an upstream result says so (``units = "metres"``); SfM alone
    cannot know the scale.
    """
    if not fusion.points.is_file():
        raise InputError(f"the fusion artifact has no fused point cloud ({fusion.points})")
    masks = undistort.root / "masks"
    metric = "metres" in (getattr(fusion, "units", None), getattr(undistort, "units", None))
    return (fusion.points, undistort.model, undistort.image_dir, masks if masks.is_dir() else None,
            "metres" if metric else "sfm")


SPARSE_CLOUD = 0.01
"""Fused points per photo pixel (per masked pixel, with masks) below which the stage warns that
the surface will bridge large gaps. Complete depth maps fuse into 5-30 % of the pixels."""


def warn_if_sparse(cloud: OrientedCloud, views: Sequence[CameraView], log: Any) -> None:
    """Warn when ``cloud`` has fewer than :data:`SPARSE_CLOUD` points per pixel of the photos."""
    pixels = sum(v.width * v.height if v.mask_path is None else int(np.count_nonzero(v.read_mask())) for v in views)
    if len(cloud) >= SPARSE_CLOUD * pixels:
        return
    log.warning("the fused cloud is sparse: %d points for %d photos, %.2f %% of their %spixels (complete depth "
                "maps give 5-30 %%). The surface bridges large gaps. The depth stage's mean_kept "
                "(photogrammetry status) shows how much depth it found; textureless surfaces, or photos of "
                "very different scale or light, give little.", len(cloud), len(views),
                100.0 * len(cloud) / max(pixels, 1), "masked " if any(v.mask_path for v in views) else "")


def run(config: MeshConfig, ctx: StageContext, *, fusion: FusionResult, undistort: UndistortResult) -> dict[str, Any]:
    """Mesh the fused cloud of ``fusion`` into ``ctx.out``."""
    points_path, model, images, masks, units = upstream_inputs(fusion, undistort)
    views = load_colmap_views(model, images, masks)
    cloud = read_cloud(points_path, views)
    warn_if_sparse(cloud, views, ctx.log)
    build = build_mesh(config, cloud, views, colmap_points(model), workers=ctx.workers, log=ctx.log)
    write_ply(ctx.out / "mesh.ply", build.raw, comments=(f"units {units}",))
    for name, mesh in build.levels.items():
        write_ply(ctx.out / "levels" / f"{name}.ply", mesh, comments=(f"units {units}", f"level {name}"))
    triangles = {"raw": len(build.raw.faces), **{k: len(v.faces) for k, v in build.levels.items()}}
    box = None if build.box is None else (tuple(build.box[0].tolist()), tuple(build.box[1].tolist()))
    write_json(ctx.out / "mesh.json", MeshInfo(units=units, method=config.method, triangles=triangles,
                                              seconds=build.seconds, bbox=box))
    ctx.log.info("mesh units: %s", "metres" if units == "metres" else "SfM units (scale unknown)")
    return {"triangles": len(build.raw.faces), "vertices": len(build.raw.vertices),
            **{f"triangles_{k}": v for k, v in triangles.items() if k != "raw"}}


STAGE = StageSpec(
    name="mesh",
    version=3,
    config=MeshConfig,
    run=run,
    load=load_mesh_result,
    requires=("fusion", "undistort"),
    outputs={"mesh": "mesh.ply", "levels": "levels"},
    summary="Surface from the fused cloud (Poisson or TSDF), cleaned, cropped, in detail levels.",
)
