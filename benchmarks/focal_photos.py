"""The photos :mod:`benchmarks.focal` and :mod:`benchmarks.plumb` map: a set's photos without EXIF
(:func:`stripped_copy`), resampled as a lens with radial distortion would have seen them (:func:`distort`), and
as a lens ``z`` times longer would have (:func:`zoom`: a centre crop scaled back to the full size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.sets import BenchmarkSet


def strip_exif(src: Path, dst: Path) -> None:
    """Copy a photo without its EXIF block (JPEG APP1 ``Exif``, PNG ``eXIf``); pixels untouched."""
    data = src.read_bytes()
    if data[:2] == b"\xff\xd8":
        out, i = bytearray(data[:2]), 2
        while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (0xDA, 0xD9):
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if not (data[i + 1] == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00"):
                out += data[i:i + 2 + length]
            i += 2 + length
        data = bytes(out + data[i:])
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        out, i = bytearray(data[:8]), 8
        while i + 8 <= len(data):
            length = int.from_bytes(data[i:i + 4], "big")
            if data[i + 4:i + 8] != b"eXIf":
                out += data[i:i + 12 + length]
            i += 12 + length
        data = bytes(out)
    dst.write_bytes(data)


def stripped_copy(bset: BenchmarkSet, folder: Path) -> Path:
    """The set's photos without EXIF in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for photo in sorted(p for p in bset.images.iterdir() if p.is_file()):
        strip_exif(photo, folder / photo.name)
    return folder


def lens_zoom(K: np.ndarray, width: int, height: int, k1: float) -> float:
    """The least zoom ``s`` (focal length ``s f``) at which a lens of radial distortion ``k1`` sees no
    farther than the photo of camera ``K`` (3, 3) at ``width`` x ``height``: 1 for ``k1 >= 0``
    (pincushion looks inward); a barrel lens would otherwise see beyond the photo's corners."""
    import cv2

    corners = np.array([[[0, 0]], [[width - 1, 0]], [[0, height - 1]], [[width - 1, height - 1]]], np.float64)

    def inside(zoom: float) -> bool:
        lens = K.copy()
        lens[:2, :2] *= zoom
        ideal = cv2.undistortPoints(corners, lens, np.array([k1, 0.0, 0.0, 0.0]), P=K).reshape(-1, 2)
        return bool(np.all((ideal >= -0.5) & (ideal <= [width - 0.5, height - 0.5])))

    low, high = 1.0, 3.0
    if k1 >= 0 or inside(low):
        return 1.0
    for _ in range(40):
        low, high = (low, (low + high) / 2) if inside((low + high) / 2) else ((low + high) / 2, high)
    return high


def _write(path: Path, image: np.ndarray) -> None:
    """``image`` over the photo at ``path``, in its format (JPEG at quality 95)."""
    import cv2

    quality = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    cv2.imwrite(str(path), image, quality)


def distort(photos: Path, gt, k1: float) -> float:
    """Each photo of ``photos`` that ``gt`` has a camera for, resampled (bilinear, in place) as seen
    through radial distortion ``k1`` around its true principal point, zoomed by :func:`lens_zoom` (the
    same for every photo: the largest) so that no part of it lies beyond the photo; returns the zoom,
    by which the true focal lengths grow."""
    import cv2

    from PIL import Image

    views = [(photos / v.name, v) for v in gt.views.values() if (photos / v.name).is_file()]
    sizes = []
    for path, _ in views:
        with Image.open(path) as im:  # the header only: each photo is decoded once, below
            sizes.append(im.size)
    zoom = max(lens_zoom(v.camera.scaled_to(w, h).K, w, h, k1) for (_, v), (w, h) in zip(views, sizes))
    for path, view in views:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        height, width = image.shape[:2]
        K = view.camera.scaled_to(width, height).K
        lens = K.copy()
        lens[:2, :2] *= zoom
        grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), -1).reshape(-1, 1, 2).astype(np.float64)
        ideal = cv2.undistortPoints(grid, lens, np.array([k1, 0.0, 0.0, 0.0]), P=K).reshape(height, width, 2)
        warped = cv2.remap(image, ideal[..., 0].astype(np.float32), ideal[..., 1].astype(np.float32),
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        _write(path, warped)
    return zoom


def zoomed_K(K: np.ndarray, width: int, height: int, factor: float) -> np.ndarray:
    """The camera ``K`` (3, 3; COLMAP's convention, the photo spanning ``[0, width] x [0, height]``) of the
    photo's centre ``1 / factor`` of its width and height scaled back to ``width`` x ``height``: a lens
    ``factor`` times longer, its principal point moved with the crop (``c' = factor (c - centre) + centre``)."""
    centre = np.array([width / 2.0, height / 2.0])
    A = np.eye(3)
    A[:2, :2] *= factor
    A[:2, 2] = (1.0 - factor) * centre
    return A @ K


def zoom_image(image: np.ndarray, factor: float) -> np.ndarray:
    """``image``'s centre ``1 / factor`` crop scaled back to its size (bilinear): what a lens ``factor`` times
    longer sees. One affine warp, so a crop of a fractional number of pixels (640 / 3) is exact too; pixel
    index ``i`` lies at ``i + 0.5`` in :func:`zoomed_K`'s convention, so the centre is ``(size - 1) / 2`` here."""
    import cv2

    height, width = image.shape[:2]
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    M = np.hstack([factor * np.eye(2), ((1.0 - factor) * centre)[:, None]])
    return cv2.warpAffine(image, M, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def zoom(photos: Path, factor: float) -> float:
    """Every photo of ``photos`` (in place) through a lens ``factor`` times longer (:func:`zoom_image`);
    returns ``factor``, by which the true focal lengths grow (the true poses stay the truth)."""
    import cv2

    if factor < 1.0:
        raise ValueError(f"zoom {factor}: a crop can only lengthen the lens (1 or more)")
    for path in sorted(p for p in photos.iterdir() if p.is_file()):
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            continue
        _write(path, zoom_image(image, factor))
    return factor
