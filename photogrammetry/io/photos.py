"""Reading photos: listing a folder, decoding pixels, EXIF orientation and focal priors.

Pixels are decoded with OpenCV from bytes read by Python (so any file name works), EXIF
is read with Pillow from the same bytes without decoding pixels. HEIC/HEIF photos (phones) are
decoded with ``pillow-heif``, which turns them upright itself. Arrays are OpenCV's BGR order.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
from datetime import datetime
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
"""Diagonal of a 35 mm film frame; 35 mm-equivalent focal lengths are defined by it (CIPA DC-004)."""
_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
"""EXIF FocalPlaneResolutionUnit -> millimetres per unit."""
_UNSUPPORTED_HINTS = {
    ".dng": "RAW files are not supported; develop them to TIFF or JPEG first",
    ".cr2": "RAW files are not supported; develop them to TIFF or JPEG first",
    ".nef": "RAW files are not supported; develop them to TIFF or JPEG first",
    ".arw": "RAW files are not supported; develop them to TIFF or JPEG first",
}
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
"""First bytes of TIFF and BigTIFF files, little- and big-endian."""
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
"""ISO-BMFF major brands of HEIF still images and sequences (``mif1`` may also be AVIF)."""
_JPEG_NO_LENGTH = {0x00, 0x01, 0xD8, *range(0xD0, 0xD8)}
"""JPEG markers without a length field: stuffed ``FF 00``, TEM, SOI and the restart markers."""


def _listable(path: Path) -> bool:
    """A regular file, or an entry that cannot be examined (a broken link), which ingest reports."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True


def list_files(root: Path, skip_marker: str) -> list[Path]:
    """Files below ``root``, sorted by relative path.

    Leaves out hidden entries, nested workspaces, pipes, sockets and devices, and folders
    reached a second time through a symbolic link (so link loops end). Broken links are kept.

    Args:
        root: Photo folder.
        skip_marker: File name that marks a folder to leave out (a workspace).
    """
    found, seen = [], set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # reached again through a link
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (Path(folder) / d / skip_marker).exists())
        found += [p for f in files if not f.startswith(".") and _listable(p := Path(folder) / f)]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def printable_name(name: str) -> str:
    """``name`` with bytes that are not UTF-8 (names made on other systems) written as ``\\xNN``.

    Equal to ``name`` exactly when the name can be stored in JSON and logs as it is.
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
    capture_time: str | None = None
    """When the photo was taken (``DateTimeOriginal`` with ``SubSecTimeOriginal``), ISO 8601 on the
    camera's clock: ``2024-05-01T12:00:00.250000``."""


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


def capture_time(original: object, subsec: object = None) -> str | None:
    """ISO 8601 time of EXIF ``DateTimeOriginal`` (``2024:05:01 12:00:00``) and ``SubSecTimeOriginal``
    (the digits of the fraction of a second: ``25`` is 0.25 s); ``None`` when absent or not a date."""
    text = _text(original)
    try:
        when = datetime.strptime(text or "", "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    digits = "".join(c for c in (_text(subsec) or "") if c.isdigit())
    return when.replace(microsecond=int((digits + "000000")[:6])).isoformat(timespec="microseconds")


def _open_header(data: bytes) -> Image.Image:
    """Pillow's lazy view of an encoded image: its header and metadata, no pixels decoded.

    ``Image.open`` refuses images of more than twice ``Image.MAX_IMAGE_PIXELS`` (about 179 million
    pixels, e.g. 20000 x 15000) to guard Pillow's own decoding. Pixels are decoded by OpenCV here,
    under its own limit (2**30 pixels), so such a photo is opened by its format's reader directly,
    as ``Image.open`` would, to keep its EXIF orientation and focal length.
    """
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        for name in Image.ID:
            factory, accept = Image.OPEN[name]
            if accept is None or accept(data[:16]) is True:
                try:
                    return factory(io.BytesIO(data), "")
                except (SyntaxError, IndexError, TypeError, ValueError, OSError):
                    continue
        raise


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA = (b"eXIf", b"tEXt", b"zTXt", b"iTXt")
"""The PNG chunks Pillow takes EXIF (or the XMP orientation) from."""


def png_without_metadata(data: bytes) -> bool:
    """Whether ``data`` is a whole PNG with no chunk that could hold EXIF or XMP (``eXIf``, text), read from
    the chunk headers alone. Pillow's ``getexif`` decodes a PNG's pixels to reach the chunks after them
    (5 ms a 640 x 480 photo, seconds for a large one), which then give an empty EXIF."""
    if not data.startswith(_PNG_SIGNATURE):
        return False
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind in _PNG_METADATA:
            return False
        if kind == b"IEND":
            return True
        pos += length + 12  # length, type, data, CRC
    return False  # truncated: Pillow reads it as before


def read_exif(data: bytes) -> ExifInfo:
    """EXIF of an encoded photo; one without (readable) EXIF gives an empty :class:`ExifInfo`."""
    if png_without_metadata(data):
        return ExifInfo()
    try:
        with _open_header(data) as img:
            exif = img.getexif()
            sub = exif.get_ifd(ExifTags.IFD.Exif)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return ExifInfo()
    tags = ExifTags.Base
    unit = _positive(sub.get(tags.FocalPlaneResolutionUnit))
    unit_mm = _UNIT_MM.get(int(unit) if unit else 2)
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
        capture_time=capture_time(sub.get(tags.DateTimeOriginal), sub.get(tags.SubsecTimeOriginal)),
    )


def focal_prior_px(exif: ExifInfo, width: int, height: int) -> tuple[float | None, str]:
    """Focal length in pixels of an upright image, and where it came from.

    Args:
        exif: The photo's EXIF.
        width: Width of the upright image, before any downscaling.
        height: Height of the upright image, before any downscaling.

    Returns:
        ``(focal, source)`` with source ``exif_focal_plane``, ``exif_35mm`` or ``none``.
    """
    stored_width = height if exif.orientation in (5, 6, 7, 8) else width  # the sensor's x axis
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


def is_heif(data: bytes) -> bool:
    """Whether ``data`` starts like a HEIF file (an ``ftyp`` box with a HEIF brand): HEIC from phones."""
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def decode_heif(data: bytes) -> tuple[np.ndarray | None, ExifInfo]:
    """Pixels and EXIF of a HEIF photo; pixels ``None`` when it cannot be decoded.

    libheif applies the file's rotation and mirroring while decoding (HEIF stores them as
    transform boxes, and pillow-heif writes the EXIF orientation as 1), so the pixels come upright;
    the returned EXIF carries the orientation the camera recorded, which was thus applied.

    Returns:
        ``(image, exif)``: ``(H, W, 3)`` or ``(H, W, 4)`` uint8 BGR[A] upright pixels, and the EXIF.
    """
    import pillow_heif

    pillow_heif.register_heif_opener()  # idempotent: lets Pillow (and read_exif) open HEIF
    exif = read_exif(data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            original = img.info.get("original_orientation")
            rgb = np.asarray(img.convert("RGBA" if "A" in img.getbands() else "RGB"))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None, exif
    if original in range(1, 9):
        exif = replace(exif, orientation=int(original))
    code = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(rgb, code), exif


def is_jpeg(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG file (SOI marker followed by another marker)."""
    return data[:3] == b"\xff\xd8\xff"


def jpeg_complete(data: bytes) -> bool:
    """Whether JPEG ``data`` reaches its main image's end-of-image marker ``FF D9``.

    Walks the markers from the start: segments with a length (APPn holding an EXIF thumbnail,
    tables, frame and scan headers) are skipped whole; in entropy-coded data ``FF`` is only
    followed by ``00`` or a restart marker, so the next other ``FF xx`` is a real marker. Data
    after the EOI (maker trailers, the video of a motion photo) is never looked at. A file cut
    short, e.g. by an interrupted copy, ends before its EOI. OpenCV builds differ: some decode
    such files without error, with a grey bottom part.
    """
    pos, end = 2, len(data)
    while (pos := data.find(b"\xff", pos)) >= 0 and pos + 1 < end:
        marker = data[pos + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker in _JPEG_NO_LENGTH:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def decode_upright(data: bytes, orientation: int | None) -> np.ndarray | None:
    """Decode and turn upright following the EXIF orientation; ``None`` when the bytes are no image.

    OpenCV's TIFF decoder applies the TIFF orientation tag itself, even with
    ``IMREAD_UNCHANGED``; images in the other formats come as stored and are turned here.

    Returns:
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array of uint8, uint16 or float32 (BGR[A]).
    """
    if not data:
        return None
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if image is None or data[:4] in _TIFF_MAGIC:
        return image
    return apply_orientation(image, orientation)


def apply_orientation(image: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn a stored image into its upright view, following the EXIF orientation tag.

    OpenCV's flips and rotations (a 20000 x 15000 photo turns in a fraction of a second, where
    NumPy's strided copy takes seconds).
    """
    ops = {
        2: lambda a: cv2.flip(a, 1),
        3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
        4: lambda a: cv2.flip(a, 0),
        5: cv2.transpose,
        6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
        7: lambda a: cv2.flip(cv2.transpose(a), -1),
        8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    return ops[orientation](image) if orientation in ops else image


def to_bgr8(image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Split a decoded image into 8-bit BGR and an alpha channel (``None`` if there is none).

    Floating-point pixels are read as 0 to 1 (1 and above are white); integer ones by their type's range.

    Returns:
        ``(bgr, alpha)``: ``(H, W, 3)`` uint8, and ``(H, W)`` uint8 or ``None``; ``bgr`` is
        ``None`` for pixel types that cannot be converted: 32-bit integers, and floating-point
        pixels mostly above 1.0, whose scale is unknown (e.g. 0 to 255) and would come out white.
    """
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float32) / 257.0).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        if np.median(image) > 1.0:  # most pixels would be white: not 0..1 but a scale unknown (e.g. 0..255)
            return None, None
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


def unsupported_pixels(image: np.ndarray) -> str:
    """Why :func:`to_bgr8` cannot convert ``image``, and what to do (a reason for the skipped-file list)."""
    what = (f" mostly above 1.0 (median {np.median(image):.4g}; floating-point pixels are read as 0 to 1, higher "
            "is white)") if image.dtype.kind == "f" else ""
    return (f"unsupported {image.dtype} pixels{what}, shape {image.shape}; save it with 8 or 16 bits per channel "
            "(JPEG, PNG or TIFF)")


def downscale(image: np.ndarray, max_size: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most ``max_size`` (0: unchanged); returns the scale used."""
    height, width = image.shape[:2]
    if max_size <= 0 or max(width, height) <= max_size:
        return image, 1.0
    scale = max_size / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), size[0] / width
