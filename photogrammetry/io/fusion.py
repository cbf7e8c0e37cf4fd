"""The fusion artifact: the fused point cloud, the TSDF's mesh, and their summary.

Files in ``<workspace>/fusion/<key>/``:

- ``fused.ply``: the ``fused_points`` output: binary little-endian PLY, float32 ``x y z nx ny nz``,
  uint8 ``red green blue``, world frame (:func:`write_point_ply`), the layout of COLMAP's fused clouds;
- ``fused.ply.vis``: only with ``fusion.method = "points"``: the views each point came from, COLMAP's
  format (:mod:`photogrammetry.io.colmap_dense`);
- ``tsdf_mesh.ply``: only with ``fusion.method = "tsdf"``: the TSDF's triangle mesh with vertex
  colours (:func:`write_colored_mesh`);
- ``fusion.json``: :class:`FusionSummary`: method, point count, voxel size and ``units``.

Points and the voxel size are in the units of the depth artifact, which ``fusion.json`` states
(``units``, copied from ``depth.json``; absent from artifacts written before it was recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photogrammetry.errors import StageError
from photogrammetry.io.jsonio import read_json, write_bytes_atomic, write_json
from photogrammetry.io.scale import Units

FUSION_SUMMARY = "fusion.json"
"""Name of the fusion artifact's summary."""


@dataclass(frozen=True, kw_only=True)
class FusionSummary:
    """What the fusion stage did, in ``fusion.json``."""

    method: str
    """``points`` or ``tsdf``."""
    points: int
    """Points in ``fused.ply``."""
    voxel_size: float
    """Voxel size used (merging for ``points``, TSDF voxels for ``tsdf``), model units."""
    mesh_triangles: int = 0
    """Triangles of ``tsdf_mesh.ply`` (0 without one)."""
    device: str = "cpu"
    """Where the fusion ran (informative only)."""
    units: Units | None = None
    """Length unit of the points (the depth artifact's); ``None`` in artifacts written before it was
    recorded (their undistort artifact says)."""


@dataclass(frozen=True)
class FusionResult:
    """The fusion artifact, loaded."""

    root: Path
    """Artifact folder."""
    summary: FusionSummary
    """Contents of ``fusion.json``."""

    @property
    def points(self) -> Path:
        """The fused point cloud (PLY)."""
        return self.root / "fused.ply"

    @property
    def mesh(self) -> Path | None:
        """The TSDF mesh (PLY), when the TSDF method made one."""
        path = self.root / "tsdf_mesh.ply"
        return path if path.is_file() else None

    @property
    def units(self) -> Units | None:
        """``metres`` or ``sfm``; ``None`` for an artifact written before units were recorded."""
        return self.summary.units


def save_fusion_summary(folder: Path, summary: FusionSummary) -> None:
    """Write ``fusion.json``."""
    write_json(folder / FUSION_SUMMARY, summary)


def load_fusion(folder: Path) -> FusionResult:
    """Read a fusion artifact folder."""
    return FusionResult(root=folder, summary=FusionSummary(**read_json(folder / FUSION_SUMMARY)))


def write_point_ply(path: Path, points: np.ndarray, normals: np.ndarray, colors: np.ndarray) -> None:
    """Write a binary little-endian PLY atomically.

    Args:
        path: Output file.
        points: (N, 3) positions (stored as float32).
        normals: (N, 3) unit normals (float32).
        colors: (N, 3) uint8 RGB.
    """
    dtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
                      ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    rows = np.empty(len(points), dtype)
    for i, axis in enumerate("xyz"):
        rows[axis] = points[:, i]
        rows[f"n{axis}"] = normals[:, i]
    for i, channel in enumerate(("red", "green", "blue")):
        rows[channel] = colors[:, i]
    properties = "".join(f"property {'float' if rows.dtype[n].kind == 'f' else 'uchar'} {n}\n" for n in dtype.names)
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {len(rows)}\n{properties}end_header\n"
    write_bytes_atomic(path, header.encode("ascii") + rows.tobytes())


def write_colored_mesh(path: Path, vertices: np.ndarray, triangles: np.ndarray, colors: np.ndarray) -> None:
    """Binary PLY mesh with vertex colours (open3d's writer), written to a temporary name and renamed.

    Args:
        path: Output file.
        vertices: (V, 3) positions.
        triangles: (F, 3) vertex indices.
        colors: (V, 3) uint8 RGB.
    """
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(triangles))
    mesh.vertex_colors = o3d.utility.Vector3dVector(colors.astype(np.float64) / 255.0)
    tmp = path.with_name(f".tmp-{path.name}")
    if not o3d.io.write_triangle_mesh(str(tmp), mesh, write_ascii=False):
        raise StageError(f"could not write {path}")
    tmp.replace(path)
