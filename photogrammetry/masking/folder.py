"""User masks from a folder: for image ``<name>`` (e.g. ``ring1/img_001.jpg``) the first of
``<name>.png``, ``<name without suffix>.png``, ``<name without suffix>_mask.png`` and the same
three by the file name alone (without sub-folders). White (>= 128) is the object; masks of
another size than the photo are resized (nearest)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from photogrammetry.errors import InputError


def candidates(name: str) -> list[str]:
    """Relative mask paths tried for image ``name``, in order."""
    path = PurePosixPath(name)
    out = []
    for p in (path, PurePosixPath(path.name)):
        stem = str(p.with_suffix(""))
        out += [f"{p}.png", f"{stem}.png", f"{stem}_mask.png"]
    return list(dict.fromkeys(out))


def find_mask(folder: Path, name: str) -> Path | None:
    """The user's mask file for image ``name``, ``None`` when there is none."""
    for rel in candidates(name):
        if (folder / rel).is_file():
            return folder / rel
    return None


def read_user_mask(path: Path, width: int, height: int) -> np.ndarray:
    """A user's mask as a (height, width) bool array."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"cannot read mask {path}: not an image OpenCV can decode")
    if image.shape != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
    return image >= 128


def folder_fingerprint(folder: Path, names: Sequence[str] | None = None) -> dict[str, object]:
    """Content hash of every mask file in ``folder`` (so that edited masks give another key)."""
    if not folder.is_dir():
        raise InputError(f"masks folder {folder} does not exist")
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*.png") if p.is_file())
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode("utf-8"))
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return {"masks_sha256": digest.hexdigest(), "mask_files": len(files)}
