"""The export artifact and the published output folder: files, frame and units.

Files in ``<workspace>/export/<key>/`` (each written only when its format is asked for), laid out
as they are published (``photogrammetry run -o OUTPUT``, default ``<workspace>/output/``):

- ``model.glb``: glTF 2.0, one mesh, texture embedded; +Y up, front towards +Z, metres or the
  units in ``asset.extras.units``;
- ``model.obj`` + ``model.mtl`` + ``model.png`` (or ``.jpg``), ``model.ply`` (vertex colours
  sampled from the texture, UVs as ``s``, ``t``): the same model in the frame of
  ``model_from_world`` (Y up like the GLB, or Z up with ``export.frame.up_axis=z``);
- ``cameras/colmap/`` (COLMAP binary model: the photos' cameras and the sparse points) and
  ``cameras/transforms.json`` (nerfstudio: OpenGL ``camera_to_world``, ``applied_transform`` =
  ``model_from_world``), both in the OBJ's frame, so the model lines up with the photos; beside
  them the photos ``cameras/images/``, their masks ``cameras/masks/`` and depth maps
  ``cameras/depths/`` (16-bit PNG, ``depth_unit_scale_factor``) that ``transforms.json`` names
  relative to its folder (see :mod:`photogrammetry.export.nerfstudio`);
- ``voxels.ply`` (format ``voxels``, not written by default): the fused cloud's occupied voxels
  with their mean colour, open3d's ``VoxelGrid`` PLY in the OBJ's frame
  (:mod:`photogrammetry.export.voxels`);
- ``export.json``: :class:`ExportInfo`. The published folder adds ``published.json`` (where the
  files came from), which marks it as a folder publishing may replace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from photogrammetry.io.jsonio import read_json, write_json

EXPORT_FILE = "export.json"
"""Name of the export artifact's summary."""


@dataclass(frozen=True, kw_only=True)
class ExportInfo:
    """What the export stage wrote (``export.json``)."""

    units: Literal["metres", "sfm", "normalised"]
    """Length unit of the files: ``metres`` (metric scale known), ``sfm`` (the reconstruction's
    arbitrary units, kept) or ``normalised`` (scale unknown: the largest side of the model's box
    is ``export.frame.size``); also in the GLB's ``asset.extras.units``."""
    files: dict[str, str]
    """Format -> path relative to the artifact folder (``glb``, ``obj``, ``ply``, ``cameras``)."""
    triangles: int
    """Triangles of the exported mesh."""
    model_from_world: tuple[tuple[float, ...], ...] = tuple(map(tuple, np.eye(4)))
    """(4, 4) similarity from the reconstruction's frame (the sfm, scale, depth, fusion, mesh and
    texture artifacts) to the frame of the OBJ, the PLY and the cameras."""
    glb_from_world: tuple[tuple[float, ...], ...] = tuple(map(tuple, np.eye(4)))
    """(4, 4) the same for the GLB (always Y up)."""
    up_axis: Literal["y", "z"] = "y"
    """Up axis of the OBJ, the PLY and the cameras."""
    up_source: str = "none"
    """What gave the up direction: ``cameras``, ``ground``, ``wall``, ``turntable`` or ``none``."""
    scale: float = 1.0
    """Model units per reconstruction unit."""
    size: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Sides of the model's bounding box along the GLB's x, y (up) and z, in model units."""


@dataclass(frozen=True)
class ExportResult:
    """The export artifact, loaded."""

    root: Path
    """Artifact folder."""
    info: ExportInfo
    """Units, frame and files."""

    def path(self, fmt: str) -> Path:
        """Absolute path of the file of one format (``glb``, ``obj``, ``ply``, ``cameras``, ``voxels``; a further
        textured level's as ``<level>_glb``, ``<level>_obj``, ``<level>_ply``)."""
        return self.root / self.info.files[fmt]


def save_export_info(folder: Path, info: ExportInfo) -> None:
    """Write ``export.json``."""
    write_json(Path(folder) / EXPORT_FILE, info)


def load_export_result(folder: Path) -> ExportResult:
    """Read an export artifact folder (or a published output folder)."""
    raw = read_json(Path(folder) / EXPORT_FILE)
    matrices = {name: tuple(tuple(row) for row in raw[name]) for name in ("model_from_world", "glb_from_world")
                if name in raw}
    info = ExportInfo(units=raw["units"], files=dict(raw["files"]), triangles=raw["triangles"], **matrices,
                      up_axis=raw.get("up_axis", "y"), up_source=raw.get("up_source", "none"),
                      scale=raw.get("scale", 1.0), size=tuple(raw.get("size", (0.0, 0.0, 0.0))))
    return ExportResult(Path(folder), info)
