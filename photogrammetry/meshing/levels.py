"""Detail levels: quadric-error decimation of the cleaned mesh to fixed triangle budgets."""

from __future__ import annotations

import time
from collections.abc import Mapping

from photogrammetry.io.mesh import DETAIL_LEVELS, MeshData
from photogrammetry.meshing.cleanup import from_open3d, to_open3d


def decimate(mesh: MeshData, target_triangles: int) -> MeshData:
    """Quadric-error decimation (Garland and Heckbert) to about ``target_triangles``.

    Returns the mesh itself when it has no more triangles than the target.
    """
    if len(mesh.faces) <= target_triangles:
        return mesh
    simplified = to_open3d(mesh).simplify_quadric_decimation(target_number_of_triangles=int(target_triangles))
    simplified.remove_degenerate_triangles()
    simplified.remove_unreferenced_vertices()
    return from_open3d(simplified)


def detail_levels(mesh: MeshData, levels: Mapping[str, int] = DETAIL_LEVELS) -> dict[str, tuple[MeshData, float]]:
    """Every level of ``levels`` (name -> triangle budget) with the seconds it took.

    Levels are made from the finest down, each from the previous one, which costs a fraction
    of decimating the full mesh every time.
    """
    out: dict[str, tuple[MeshData, float]] = {}
    source = mesh
    for name, budget in sorted(levels.items(), key=lambda item: -item[1]):
        start = time.perf_counter()
        source = decimate(source, budget)
        out[name] = (source, time.perf_counter() - start)
    return out
