"""Reading photos: listing a folder, decoding pixels, EXIF orientation and focal priors.

Pixels are decoded with OpenCV from bytes read by Python (so any file name works), EXIF
is read with Pillow without decoding pixels. Arrays are OpenCV's BGR order.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
"""Diagonal of a 35 mm film frame; 35 mm-equivalent focal lengths are defined by it (CIPA DC-004)."""
_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
"""EXIF FocalPlaneResolutionUnit -> millimetres per unit."""
_UNSUPPORTED_HINTS = {
    ".heic": "HEIC/HEIF photos are not supported; export them as JPEG",
    ".heif": "HEIC/HEIF photos are not supported; export them as JPEG",
    ".dng": "RAW files are not supported; develop them to TIFF or JPEG first",
    ".cr2": "RAW files are not supported; develop them to TIFF or JPEG first",
    ".nef": "RAW files are not supported; develop them to TIFF or JPEG first",
    ".arw": "RAW files are not supported; develop them to TIFF or JPEG first",
}


def list_files(root: Path, skip_marker: str) -> list[Path]:
    """Regular files below ``root``, sorted, leaving out hidden entries and nested workspaces.

    Args:
        root: Photo folder.
        skip_marker: File name that marks a folder to leave out (a workspace).
    """
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (Path(folder) / d / skip_marker).exists())
        found += [Path(folder) / f for f in files if not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


@dataclass(frozen=True)
class ExifInfo:
    """The EXIF fields ingest uses; every field is ``None`` when absent."""

    make: str | None = None
    """Camera maker."""
    model: str | None = None
    """Camera body."""
    lens: str | None = None
    """Lens model."""
    orientation: int | None = None
    """EXIF orientation, 1..8."""
    focal_mm: float | None = None
    """Focal length in millimetres."""
    focal_35mm: float | None = None
    """35 mm-equivalent focal length in millimetres."""
    focal_plane_px_per_mm: float | None = None
    """Sensor pixels per millimetre along x, at ``exif_width`` pixels across."""
    exif_width: int | None = None
    """Image width the focal-plane resolution refers to."""


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip("\x00 ").strip() or None


def read_exif(path: Path) -> ExifInfo:
    """EXIF of ``path``; an image without (readable) EXIF gives an empty :class:`ExifInfo`."""
    try:
        with Image.open(path) as img:
            exif = img.getexif()
            sub = exif.get_ifd(ExifTags.IFD.Exif)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return ExifInfo()
    tags = ExifTags.Base
    unit_mm = _UNIT_MM.get(int(sub.get(tags.FocalPlaneResolutionUnit, 2) or 2))
    x_res = _positive(sub.get(tags.FocalPlaneXResolution))
    orientation = exif.get(tags.Orientation)
    return ExifInfo(
        make=_text(exif.get(tags.Make)),
        model=_text(exif.get(tags.Model)),
        lens=_text(sub.get(tags.LensModel)),
        orientation=int(orientation) if orientation in range(1, 9) else None,
        focal_mm=_positive(sub.get(tags.FocalLength)),
        focal_35mm=_positive(sub.get(tags.FocalLengthIn35mmFilm)),
        focal_plane_px_per_mm=x_res / unit_mm if x_res and unit_mm else None,
        exif_width=int(sub[tags.ExifImageWidth]) if _positive(sub.get(tags.ExifImageWidth)) else None,
    )


def focal_prior_px(exif: ExifInfo, width: int, height: int, stored_width: int) -> tuple[float | None, str]:
    """Focal length in pixels of an (oriented) image, and where it came from.

    Args:
        exif: The photo's EXIF.
        width: Width of the oriented image, before any downscaling.
        height: Height of the oriented image, before any downscaling.
        stored_width: Width of the image as stored in the file (before orientation).

    Returns:
        ``(focal, source)`` with source ``exif_focal_plane``, ``exif_35mm`` or ``none``.
    """
    candidates = []
    if exif.focal_mm and exif.focal_plane_px_per_mm:
        sensor_px_scale = stored_width / exif.exif_width if exif.exif_width else 1.0
        candidates.append((exif.focal_mm * exif.focal_plane_px_per_mm * sensor_px_scale, "exif_focal_plane"))
    if exif.focal_35mm:
        candidates.append((exif.focal_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM, "exif_35mm"))
    for focal, source in candidates:  # reject values no real lens gives (cropped or edited files)
        if 0.2 * max(width, height) <= focal <= 20 * max(width, height):
            return focal, source
    return None, "none"


def unsupported_hint(path: Path) -> str | None:
    """A specific hint for a known but unsupported format, from the file extension."""
    return _UNSUPPORTED_HINTS.get(path.suffix.lower())


def decode_image(data: bytes) -> np.ndarray | None:
    """Decode without applying EXIF orientation; ``None`` when the bytes are no image.

    Returns:
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array of uint8, uint16 or float32 (BGR[A]).
    """
    if not data:
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def apply_orientation(image: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn a stored image into its upright view, following the EXIF orientation tag."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: a.swapaxes(0, 1)[::-1],
    }
    return np.ascontiguousarray(ops[orientation](image)) if orientation in ops else image


def to_bgr8(image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Split a decoded image into 8-bit BGR and an alpha channel (``None`` if there is none).

    Returns:
        ``(bgr, alpha)``: ``(H, W, 3)`` uint8, and ``(H, W)`` uint8 or ``None``; ``bgr`` is
        ``None`` for pixel types that cannot be converted.
    """
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float32) / 257.0).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif image.dtype != np.uint8:
        return None, None
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), None
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3]), np.ascontiguousarray(image[:, :, 3])
    if image.shape[2] == 2:  # grey + alpha
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR), np.ascontiguousarray(image[:, :, 1])
    return (image, None) if image.shape[2] == 3 else (None, None)


def downscale(image: np.ndarray, max_size: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most ``max_size`` (0: unchanged); returns the scale used."""
    height, width = image.shape[:2]
    if max_size <= 0 or max(width, height) <= max_size:
        return image, 1.0
    scale = max_size / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), size[0] / width
