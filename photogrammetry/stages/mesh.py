"""Mesh: a watertight-where-seen surface from the fused point cloud, cleaned, cropped, in detail levels.

Steps: read the fused cloud (normals estimated when missing); crop it to the object (masks
carve it to their visual hull; else a box around the SfM points); build the surface with a mesher of
:data:`photogrammetry.meshing.MESHERS` (screened Poisson with density trimming, or TSDF
marching cubes); crop the surface the same way (with masks, vertices a little outside the hull
are pulled back onto it instead); without masks, remove the faces no photo sees
(:mod:`photogrammetry.meshing.seen`); keep the main components (floaters and
small islands go), fill small holes; with masks, move the contours onto the masks' outlines
(:mod:`photogrammetry.meshing.silhouette`); decimate to the detail levels ``preview`` / ``reduced``
/ ``medium`` / ``full`` (about 25k / 50k / 100k / 250k triangles) besides ``raw``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.fusion import FusionResult
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import MeshData, MeshInfo, load_mesh_result, write_ply
from photogrammetry.io.scale import Units
from photogrammetry.io.undistort import UndistortResult
from photogrammetry.meshing import (
    MESHERS,
    CameraView,
    CleanupOptions,
    OrientedCloud,
    SurfaceOptions,
    clean_mesh,
    colmap_points,
    detail_levels,
    load_colmap_views,
    median_spacing,
    mesher_spec,
    read_cloud,
)
from photogrammetry.meshing.cleanup import keep_large_components
from photogrammetry.meshing.crop import CropOptions, crop_filter, pull_inside
from photogrammetry.meshing.poisson import remove_vertices
from photogrammetry.meshing.seen import SeenOptions, remove_unseen
from photogrammetry.meshing.silhouette import SilhouetteOptions, fit_silhouettes


_FORMERLY = {"method": "method", "surface.poisson_depth": "poisson_depth", "surface.point_weight": "point_weight",
             "surface.density_quantile": "density_quantile", "surface.max_distance": "max_distance",
             "surface.voxel_size": "voxel_size", "crop.mode": "crop", "crop.mask_margin": "mask_margin",
             "crop.mask_tolerance": "mask_tolerance", "crop.mask_pull": "mask_pull",
             "crop.trim_with_masks": "trim_with_masks", "crop.box_margin": "box_margin",
             "cleanup.min_component": "min_component", "cleanup.max_components": "max_components",
             "cleanup.hole_radius": "hole_radius", "silhouette.band": "silhouette_band",
             "silhouette.iterations": "silhouette_iterations"}


@dataclass(frozen=True, kw_only=True)
class MeshConfig:
    """Settings of the mesh stage: the mesher and the options of each step, declared in
    :mod:`photogrammetry.meshing` beside the code they configure."""

    method: str = field(default="poisson", metadata={"choices": MESHERS})
    """Mesher, one of :data:`photogrammetry.meshing.MESHERS`: ``poisson`` or ``tsdf``."""
    surface: SurfaceOptions = field(default_factory=SurfaceOptions)
    """The meshers' settings: Poisson depth and screening, trimming, TSDF voxels."""
    crop: CropOptions = field(default_factory=CropOptions)
    """Cropping the cloud and the surface to the object: masks or a box around the SfM points."""
    seen: SeenOptions = field(default_factory=SeenOptions)
    """Faces no photo sees: removed on open scenes (box or no crop), kept closed with masks."""
    cleanup: CleanupOptions = field(default_factory=CleanupOptions)
    """Which pieces are kept and which holes filled."""
    silhouette: SilhouetteOptions = field(default_factory=SilhouetteOptions)
    """With masks: moving the mesh's contours onto the masks' outlines."""

    KEY_NAMES: ClassVar[dict[str, str]] = _FORMERLY
    """The flat names these options had in the cache key before they were nested (stage version 3)."""

    def __post_init__(self) -> None:
        if self.method not in MESHERS:
            raise ConfigError(f"mesh.method must be one of {', '.join(MESHERS)}, got {self.method!r}")


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


def build_mesh(config: MeshConfig, cloud: OrientedCloud, views: Sequence[CameraView],
               sparse_points: np.ndarray | None, *, workers: int = 1, log: Any = None,
               on_step: Callable[[str], None] | None = None) -> MeshBuild:
    """Crop, mesh, crop, clean and decimate (see the module docstring).

    Args:
        config: Settings.
        cloud: The fused oriented point cloud.
        views: The undistorted photos' cameras (and masks).
        sparse_points: (N, 3) SfM points, for the crop box.
        workers: Threads for the mesher.
        log: Logger for progress lines (optional).
        on_step: Called with the name of each step after the surface as it starts (for progress lines).
    """
    step = on_step or (lambda name: None)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    keep, mode, box = crop_filter(config.crop, views, sparse_points)
    cloud = cloud.subset(keep(cloud.points))
    if len(cloud) < 100:
        raise InputError(f"only {len(cloud)} fused points lie in the crop region; try mesh.crop.mode = none")
    spacing = median_spacing(cloud.points)
    trim = mode != "masks" or config.crop.trim_with_masks
    options = config.surface if trim else replace(config.surface, density_quantile=0.0, max_distance=0.0)
    surface = mesher_spec(config.method).build(cloud, views, options, spacing=spacing, workers=workers)
    seconds["surface"] = time.perf_counter() - start
    start = time.perf_counter()
    step("crop and cleanup")
    if mode == "masks":
        steps = math.ceil(2 * config.crop.mask_pull)  # positions half a spacing apart
        surface = pull_inside(surface, keep, step=0.5 * spacing, steps=steps)
    else:
        surface = remove_vertices(surface, ~keep(surface.vertices))
    if len(surface.faces) == 0:
        raise InputError("the surface lies outside the crop region; try mesh.crop.mode = none")
    if config.seen.removes(mode):
        seconds["crop"] = time.perf_counter() - start
        step("removing unseen faces")
        surface, seconds["unseen"] = _without_unseen(surface, views, config, log)
        start = time.perf_counter()
        step("cleanup")
    cleanup = replace(config.cleanup, min_component=config.seen.min_piece) if "unseen" in seconds else config.cleanup
    raw = clean_mesh(surface, cleanup)
    seconds["cleanup"] = time.perf_counter() - start
    if mode == "masks" and config.silhouette.band > 0 and config.silhouette.iterations > 0:
        start = time.perf_counter()
        step("fitting the silhouettes")
        raw = fit_silhouettes(raw, views, spacing, config.silhouette)
        seconds["silhouette"] = time.perf_counter() - start
    if log is not None:
        log.info("%s surface: %d points (spacing %.3g) -> %d triangles after cleanup", config.method,
                 len(cloud), spacing, len(raw.faces))
    levels = {}
    step("detail levels")
    for name, (mesh, took) in detail_levels(raw).items():
        levels[name], seconds[f"level_{name}"] = mesh, took
    return MeshBuild(raw=raw, levels=levels, seconds={k: round(v, 3) for k, v in seconds.items()}, box=box)


def _without_unseen(surface: MeshData, views: Sequence[CameraView], config: MeshConfig,
                    log: Any) -> tuple[MeshData, float]:
    """The surface without its floaters (``cleanup.min_component``) and the faces no view sees
    (:func:`remove_unseen`), and the seconds it took."""
    start = time.perf_counter()
    surface = keep_large_components(surface, min_fraction=config.cleanup.min_component,
                                    max_components=config.cleanup.max_components)
    surface, removed = remove_unseen(surface, views, config.seen)
    if log is not None:
        log.info("%.1f %% of the surface's faces are seen by no photo: removed (mesh.seen.unseen)", 100 * removed)
    if len(surface.faces) == 0:
        raise InputError("no photo sees the surface; check the cameras, or set mesh.seen.unseen = keep")
    return surface, time.perf_counter() - start


def upstream_inputs(fusion: FusionResult, undistort: UndistortResult) -> tuple[Path, Path, Path, Path | None, Units]:
    """Fused cloud, undistorted model and photos, masks folder (or ``None``) and units.

    Masks are the undistorted ones (written when the photos had masks). Units are the fused
    cloud's, as the scale stage set them and undistort, depth and fusion passed them on; a fusion
    artifact written before it recorded units has those of the undistort artifact it came from.
    """
    if not fusion.points.is_file():
        raise InputError(f"the fusion artifact has no fused point cloud ({fusion.points})")
    units = fusion.units if fusion.units is not None else undistort.units
    return fusion.points, undistort.model, undistort.image_dir, undistort.masks_dir, units


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
    with ctx.heartbeat(f"{config.method} surface") as beat:
        build = build_mesh(config, cloud, views, colmap_points(model), workers=ctx.workers, log=ctx.log,
                           on_step=beat.step)
    write_ply(ctx.out / "mesh.ply", build.raw, comments=(f"units {units}",))
    for name, mesh in build.levels.items():
        write_ply(ctx.out / "levels" / f"{name}.ply", mesh, comments=(f"units {units}", f"level {name}"))
    triangles = {"raw": len(build.raw.faces), **{k: len(v.faces) for k, v in build.levels.items()}}
    box = None if build.box is None else (tuple(build.box[0].tolist()), tuple(build.box[1].tolist()))
    write_json(ctx.out / "mesh.json", MeshInfo(units=units, method=config.method, triangles=triangles, bbox=box))
    ctx.log.info("mesh steps: %s", ", ".join(f"{step} {seconds:.1f} s" for step, seconds in build.seconds.items()))
    ctx.log.info("mesh units: %s", "metres" if units == "metres" else "SfM units (scale unknown)")
    return {"triangles": len(build.raw.faces), "vertices": len(build.raw.vertices),
            **{f"triangles_{k}": v for k, v in triangles.items() if k != "raw"}}


STAGE = StageSpec(
    name="mesh",
    version=4,  # 4: faces no photo sees removed on open scenes (mesh.seen)
    config=MeshConfig,
    run=run,
    load=load_mesh_result,
    requires=("fusion", "undistort"),
    outputs={"mesh": "mesh.ply", "levels": "levels"},
    cost=Cost(unit="point", seconds=5e-5, per_photo=30_000, units_from="fusion.points"),
    summary="Surface from the fused cloud (Poisson or TSDF), cleaned, cropped, in detail levels.",
)
