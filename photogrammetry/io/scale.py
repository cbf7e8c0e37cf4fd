"""The scale artifact: ``model/`` (the SfM model in metres, or unchanged) and ``scale.json``; the units.

Files in ``<workspace>/scale/<key>/``: ``model/`` (COLMAP binary: the sfm stage's chosen model
multiplied by the scale, or copied unchanged by ``none``) and ``scale.json`` (:class:`ScaleInfo`):
``method``, ``units`` (``metres`` when a scale was applied, else ``sfm``), ``scale`` (metres per
SfM unit; 1 for ``none``), ``relative_uncertainty`` (one standard deviation as a fraction of the
scale; null without a scale) and ``samples``.

Units are born here. Every later artifact that carries geometry states them, copied from its
upstream one: ``undistort.json``, ``depth.json``, ``fusion.json``, ``mesh.json``, ``texture.json``,
``export.json`` and the GLB's ``asset.extras``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from photogrammetry.io.jsonio import read_json, write_json

INDEX_FILE = "scale.json"

Units = Literal["metres", "sfm"]
"""Length unit of geometry: metres when the scale is known, else the arbitrary units of SfM."""


@dataclass(frozen=True, kw_only=True)
class ScaleInfo:
    """Contents of ``scale.json``."""

    method: str
    """Scale method (see :data:`photogrammetry.scale.SCALE_METHODS`)."""
    units: Units
    """``metres`` when the model was scaled, ``sfm`` otherwise."""
    scale: float
    """Metres per SfM unit applied to the model (1.0 when none)."""
    relative_uncertainty: float | None
    """One standard deviation of the scale as a fraction of it; ``None`` without a scale."""
    samples: int
    """Measurements the scale rests on."""


@dataclass(frozen=True)
class ScaleResult:
    """The scale artifact, loaded."""

    root: Path
    """Artifact folder."""
    info: ScaleInfo
    """Contents of ``scale.json``."""

    @property
    def model(self) -> Path:
        """The (scaled) model, COLMAP binary."""
        return self.root / "model"

    @property
    def units(self) -> Units:
        """``metres`` or ``sfm``, as downstream stages read it."""
        return self.info.units


def save_scale(folder: Path, info: ScaleInfo) -> None:
    """Write ``scale.json``."""
    write_json(folder / INDEX_FILE, info)


def load_scale(folder: Path) -> ScaleResult:
    """Read a scale artifact folder."""
    return ScaleResult(root=Path(folder), info=ScaleInfo(**read_json(folder / INDEX_FILE)))
