"""Small test photos made on the fly: textured images and their encodings with EXIF."""

from __future__ import annotations

import io
from collections.abc import Mapping

import cv2
import numpy as np
from PIL import ExifTags, Image

_IFD0_TAGS = {"Make", "Model", "Orientation"}
"""EXIF tags that live in the main IFD; all others used here go into the Exif sub-IFD."""


def texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A ``(height, width, 3)`` uint8 BGR image: grey 4x4-pixel random blocks over colour ramps.

    Detail is in the luma and colour varies smoothly, so JPEG keeps it within a few grey
    levels; no rotation or flip of the image resembles the image itself.
    """
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 150, size=((height + 3) // 4, (width + 3) // 4, 1), dtype=np.uint8)
    image = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:height, :width].astype(np.float32)
    ramps = np.full((height, width, 3), 50, np.float32)
    ramps[:, :, 0] = np.linspace(0, 100, width)[None, :]  # blue grows to the right
    ramps[:, :, 2] = np.linspace(0, 100, height)[:, None]  # red grows downwards
    return np.clip(image + ramps, 0, 255).astype(np.uint8)


def make_exif(tags: Mapping[str, object]) -> Image.Exif:
    """A Pillow ``Exif`` from tag names (``ExifTags.Base`` spelling) to values."""
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for name, value in tags.items():
        (exif if name in _IFD0_TAGS else sub)[ExifTags.Base[name]] = value
    return exif


def encode(image: np.ndarray, suffix: str, exif: Mapping[str, object] | None = None) -> bytes:
    """Encode a BGR(A) image of any depth as ``suffix`` (.jpg, .png, .tif, .heic); EXIF via Pillow.

    With ``exif`` (and for HEIC) the image must be 8-bit grey or BGR (Pillow writes it); without,
    OpenCV encodes it, which covers 16-bit and alpha. HEIC is written by pillow-heif, which turns
    an EXIF orientation into the file's rotation and mirror boxes, as phones store it.
    """
    if suffix == ".heic":
        return _encode_heic(image, exif or {})
    if exif is None:
        ok, buf = cv2.imencode(suffix, image, [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix == ".jpg" else [])
        assert ok
        return buf.tobytes()
    pil = Image.fromarray(image if image.ndim == 2 else np.ascontiguousarray(image[:, :, ::-1]))
    out = io.BytesIO()
    fmt = {".jpg": "JPEG", ".png": "PNG", ".tif": "TIFF"}[suffix]
    pil.save(out, fmt, exif=make_exif(exif), **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


def _encode_heic(image: np.ndarray, exif: Mapping[str, object]) -> bytes:
    """HEIC of an 8-bit BGR image (HEVC at high quality) with the given EXIF tags."""
    import pillow_heif

    pil = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))
    heif = pillow_heif.from_pillow(pil)
    out = io.BytesIO()
    heif.save(out, quality=95, exif=make_exif(exif).tobytes() if exif else None)
    return out.getvalue()
