"""What every mesher takes and returns: the options record and the registry entry type."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.views import CameraView


@dataclass(frozen=True, kw_only=True)
class SurfaceOptions:
    """Settings of the surface reconstruction; each mesher reads the ones it uses (the cloud's point
    spacing and the threads are given to the mesher's ``build``)."""

    poisson_depth: int = 0
    """Poisson octree depth (5..12); 0 picks it so that the finest cells are about 2 point spacings."""
    point_weight: float = 4.0
    """Poisson screening weight: how closely the surface follows the points (0 = unscreened)."""
    density_quantile: float = 0.03
    """Poisson trimming: vertices in this lowest quantile of density are removed (0..0.5)."""
    max_distance: float = 2.0
    """Vertices farther from the cloud than this many local spacings (distance from the nearest
    point to its 8th neighbour, which grows with sparsity and noise) are removed (0: keep)."""
    voxel_size: float = 0.0
    """TSDF voxel size in scene units; 0 means 1.5 point spacings."""
    truncation: float = 4.0
    """TSDF truncation distance in voxels."""
    poisson_threads: int = field(default=1, metadata={"cache": False})
    """Threads of the Poisson solver. 1: the same triangles, byte for byte, on every run; more (0: the
    stage's worker count): faster, but the surface then differs slightly from run to run, since
    the solver's sums depend on how the threads share the work (measured: a 60k-point sphere gave
    a different mesh on each of 4 runs with 2 threads, the same one with 1)."""

    def __post_init__(self) -> None:
        if self.poisson_depth and not 5 <= self.poisson_depth <= 12:
            raise ConfigError(f"poisson_depth must be 0 (auto) or within 5..12, got {self.poisson_depth}")
        if not 0 <= self.density_quantile < 0.5:
            raise ConfigError(f"density_quantile must be within [0, 0.5), got {self.density_quantile}")
        if self.poisson_threads < 0:
            raise ConfigError(f"poisson_threads must be >= 0 (0: the stage's workers), got {self.poisson_threads}")
        if min(self.point_weight, self.max_distance, self.voxel_size) < 0 or self.truncation <= 0:
            raise ConfigError("point_weight, max_distance and voxel_size must not be negative, truncation > 0")


@dataclass(frozen=True, kw_only=True)
class MesherSpec:
    """One entry of :data:`photogrammetry.meshing.MESHERS`."""

    name: str
    """Registry name, as given to ``mesh.method``."""
    summary: str
    """One line for help texts."""
    build: Callable[..., MeshData]
    """``build(cloud, views, options, *, spacing, workers=1)`` -> the surface (views give TSDF its depth
    maps; ``spacing``: the cloud's typical distance between neighbouring points, world units)."""
