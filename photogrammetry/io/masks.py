"""The masks artifact: ``masks/<image name>.png`` (8-bit, 255 = object) and ``masks.json``.

Files in ``<workspace>/masks/<key>/``: one mask per image that has one, the image's size, pixels
>= 128 being the object; ``masks.json`` holds the method and, per image name, the mask's path
relative to the artifact folder or ``null`` when the image has no mask (then every pixel is used).
Masks carry no geometry, so no units. The undistort artifact's ``masks/`` folder uses the same
file format (:func:`write_mask`, :func:`read_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.jsonio import read_json, write_bytes_atomic, write_json

INDEX_FILE = "masks.json"
"""Name of the index file in the artifact folder."""


@dataclass(frozen=True)
class MaskSet:
    """The masks artifact, loaded."""

    root: Path
    """Artifact folder."""
    method: str
    """Method that made the masks (see :data:`photogrammetry.masking.MASK_METHODS`)."""
    files: dict[str, str | None]
    """Image name -> mask path relative to ``root``, ``None`` for an image without a mask."""

    def mask_path(self, name: str) -> Path | None:
        """Absolute path of image ``name``'s mask, ``None`` when it has none."""
        rel = self.files.get(name)
        return self.root / rel if rel else None

    @property
    def count(self) -> int:
        """Number of images that have a mask."""
        return sum(1 for rel in self.files.values() if rel)


def mask_file(name: str) -> str:
    """Relative path of image ``name``'s mask inside the artifact folder."""
    return f"masks/{name}.png"


def write_mask(folder: Path, name: str, mask: np.ndarray) -> str:
    """Write a (H, W) boolean or uint8 mask as a 0/255 PNG; returns its relative path."""
    rel = mask_file(name)
    ok, buf = cv2.imencode(".png", np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8))
    if not ok:
        raise OSError(f"could not encode the mask of {name}")
    write_bytes_atomic(folder / rel, buf.tobytes())
    return rel


def read_mask(path: Path) -> np.ndarray:
    """A mask file as a (H, W) bool array (pixels >= 128 are the object)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"cannot read mask {path}; rerun the masks stage (--force masks)")
    return image >= 128


def save_mask_set(folder: Path, method: str, files: dict[str, str | None]) -> None:
    """Write ``masks.json``."""
    write_json(folder / INDEX_FILE, {"method": method, "files": files})


def load_mask_set(folder: Path) -> MaskSet:
    """Read a masks artifact folder."""
    raw = read_json(folder / INDEX_FILE)
    return MaskSet(root=Path(folder), method=raw["method"], files=dict(raw["files"]))
