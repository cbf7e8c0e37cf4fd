"""Surfaces from oriented point clouds: the meshers' registry, cleanup, cropping, detail levels.

Typical use::

    cloud = read_cloud(Path("fused.ply"), views)
    mesh = mesher_spec("poisson").build(cloud, views, SurfaceOptions(), spacing=median_spacing(cloud.points))
    mesh = clean_mesh(mesh, CleanupOptions())
    levels = detail_levels(mesh)          # preview / reduced / medium / full

Modules: :mod:`.cloud` (input clouds), :mod:`.views` (cameras and masks), :mod:`.poisson`,
:mod:`.tsdf` (the meshers), :mod:`.cleanup`, :mod:`.crop`, :mod:`.seen` (faces no photo sees, by
ray casting with :mod:`.raycast`), :mod:`.silhouette` (contours onto the masks' outlines), :mod:`.levels`. open3d is imported
inside the functions that use it.
"""

from __future__ import annotations

from photogrammetry.errors import ConfigError
from photogrammetry.meshing.base import MesherSpec, SurfaceOptions
from photogrammetry.meshing.cleanup import CleanupOptions, clean, clean_mesh
from photogrammetry.meshing.cloud import OrientedCloud, median_spacing, read_cloud
from photogrammetry.meshing.levels import decimate, detail_levels
from photogrammetry.meshing.poisson import poisson
from photogrammetry.meshing.tsdf import tsdf
from photogrammetry.meshing.views import CameraView, colmap_points, load_colmap_views

MESHERS: dict[str, MesherSpec] = {spec.name: spec for spec in (
    MesherSpec(name="poisson", summary="screened Poisson (open3d) with density and distance trimming",
               build=poisson),
    MesherSpec(name="tsdf", summary="TSDF fusion of the cloud's depth maps, marching cubes (open3d)",
               build=tsdf),
)}
"""All meshers, by name: the choices of ``mesh.method``."""


def mesher_spec(name: str) -> MesherSpec:
    """The registry entry called ``name``, or an error listing the choices."""
    if name not in MESHERS:
        raise ConfigError(f"unknown mesher {name!r}; choose one of: {', '.join(MESHERS)}")
    return MESHERS[name]


__all__ = [
    "MESHERS",
    "CameraView",
    "CleanupOptions",
    "MesherSpec",
    "OrientedCloud",
    "SurfaceOptions",
    "clean",
    "clean_mesh",
    "colmap_points",
    "decimate",
    "detail_levels",
    "load_colmap_views",
    "median_spacing",
    "mesher_spec",
    "read_cloud",
]
