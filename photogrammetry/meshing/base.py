"""What every mesher takes and returns: the options record and the registry entry type."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.views import CameraView


@dataclass(frozen=True, kw_only=True)
class SurfaceOptions:
    """Settings of the surface reconstruction; each mesher reads the ones it uses."""

    spacing: float
    """Typical distance between neighbouring points of the cloud (world units)."""
    poisson_depth: int = 0
    """Poisson: octree depth; 0 picks it so that the finest cells are about 2 point spacings."""
    poisson_point_weight: float = 4.0
    """Poisson: screening weight pulling the surface towards the points (0 = unscreened)."""
    density_quantile: float = 0.03
    """Poisson: vertices whose density is below this quantile of all densities are trimmed."""
    max_distance: float = 2.0
    """Poisson and TSDF: vertices farther than this many local spacings (distance from the
    nearest point to its 8th neighbour) from the points are trimmed (0 keeps them)."""
    voxel_size: float = 0.0
    """TSDF: voxel side in world units; 0 means 1.5 point spacings."""
    truncation: float = 4.0
    """TSDF: truncation distance in voxels."""
    workers: int = 1
    """Threads a mesher may use."""


@dataclass(frozen=True, kw_only=True)
class MesherSpec:
    """One entry of :data:`photogrammetry.meshing.MESHERS`."""

    name: str
    """Registry name, as given to ``mesh.method``."""
    summary: str
    """One line for help texts."""
    build: Callable[[OrientedCloud, Sequence[CameraView], SurfaceOptions], MeshData]
    """``build(cloud, views, options)`` -> the surface (views give TSDF its depth maps)."""
