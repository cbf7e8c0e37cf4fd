"""The undistort artifact: the registered photos resampled to pinhole cameras, a COLMAP dense workspace.

Files in ``<workspace>/undistort/<key>/``, written by ``pycolmap.undistort_images`` and the stage:

- ``images/<name>``: the registered images undistorted to pinhole cameras;
- ``sparse/``: the matching ``PINHOLE`` model, COLMAP binary, in the scale artifact's units;
- ``stereo/``: COLMAP's patch-match configuration;
- ``masks/<name>.png``: the object masks warped like the images (nearest neighbour, 255 =
  object, the format of :mod:`photogrammetry.io.masks`); only for images with a mask;
- ``undistort.json``: the image names and the ``units`` of the model (``metres`` or ``sfm``,
  from :mod:`photogrammetry.io.scale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photogrammetry.io.jsonio import read_json, write_json
from photogrammetry.io.scale import Units

INDEX_FILE = "undistort.json"
"""Name of the undistort artifact's index."""


@dataclass(frozen=True)
class UndistortResult:
    """The undistort artifact, loaded."""

    root: Path
    """Artifact folder (a COLMAP dense workspace: ``images/``, ``sparse/``, ``stereo/``)."""
    images: tuple[str, ...]
    """Names of the undistorted images."""
    units: Units
    """Length unit of the model: ``metres`` when the scale stage knew the scale, else ``sfm``."""

    @property
    def image_dir(self) -> Path:
        """Folder of the undistorted images."""
        return self.root / "images"

    @property
    def model(self) -> Path:
        """The undistorted (PINHOLE) model, COLMAP binary."""
        return self.root / "sparse"

    @property
    def masks_dir(self) -> Path | None:
        """The undistorted masks' folder (``masks/``) when the stage wrote one, else ``None``."""
        folder = self.root / "masks"
        return folder if folder.is_dir() else None


def save_undistort(folder: Path, images: tuple[str, ...], *, units: Units) -> None:
    """Write ``undistort.json``."""
    write_json(folder / INDEX_FILE, {"images": images, "units": units})


def load_undistort(folder: Path) -> UndistortResult:
    """Read an undistort artifact folder (one written before units were recorded is in ``sfm`` units)."""
    raw = read_json(folder / INDEX_FILE)
    return UndistortResult(root=folder, images=tuple(raw["images"]), units=raw.get("units", "sfm"))
