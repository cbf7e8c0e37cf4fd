"""Readers of benchmark calibrations: Middlebury ``*_par.txt``, Strecha ``*.camera``, RGB-D sequences.

Middlebury and Strecha give ``K`` in pixels with a top-left origin and do not say where the
centre of a pixel lies; the values are taken as COLMAP-convention intrinsics (a half-pixel
ambiguity). RGB-D sequences (``gt/cams/K.txt`` + ``gt/cams/poses_c2w.txt``, e.g. the DeepVideoMVS
office) state OpenCV's convention, which is converted.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
from PIL import Image

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.ground_truth import GroundTruthFormatError, GTView

logger = logging.getLogger(__name__)

_EXIF_ORIENTATION = 0x0112
_BBOX_LINE = re.compile(r"\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\)")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image as displayed (EXIF rotations applied), from its header."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except OSError as err:
        raise GroundTruthFormatError(f"{path}: cannot read image size ({err})") from err
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def find_images_dir(candidates: list[Path]) -> Path | None:
    """The first existing folder among ``candidates``."""
    return next((c for c in candidates if c.is_dir()), None)


def _floats(text: str, count: int, where: str) -> np.ndarray:
    """Parse exactly ``count`` numbers from ``text`` or raise an error naming ``where``."""
    fields = text.split()
    if len(fields) != count:
        raise GroundTruthFormatError(f"{where}: expected {count} numbers, got {len(fields)}")
    try:
        return np.array([float(f) for f in fields])
    except ValueError as err:
        raise GroundTruthFormatError(f"{where}: {err}") from err


def checked_rotation(matrix: np.ndarray, where: str, *, tolerance: float = 1e-3) -> np.ndarray:
    """Return the nearest rotation to ``matrix`` (3, 3); raise when it is not near one."""
    U, _, Vt = np.linalg.svd(matrix)
    rotation = U @ Vt
    if np.linalg.det(rotation) < 0 or np.abs(rotation - matrix).max() > tolerance:
        raise GroundTruthFormatError(f"{where}: matrix is not a rotation")
    return rotation


def read_middlebury_bbox(readme: Path) -> np.ndarray | None:
    """(2, 3) bounding box from a Middlebury ``README.txt`` (two ``(x y z)`` lines), if any."""
    if not readme.is_file():
        return None
    corners = _BBOX_LINE.findall(readme.read_text(encoding="utf-8", errors="replace"))
    if len(corners) < 2:
        return None
    bbox = np.array(corners[:2], dtype=np.float64)
    return np.stack([bbox.min(axis=0), bbox.max(axis=0)])


def read_middlebury_par(
    path: Path, *, images_dir: Path | None, image_size_hint: tuple[int, int] | None
) -> dict[str, GTView]:
    """Read a Middlebury ``*_par.txt``: a count, then ``name k11..k33 r11..r33 t1 t2 t3`` lines.

    Args:
        path: the ``*_par.txt`` file; ``P = K [R | t]`` maps world to image.
        images_dir: folder of the images; their sizes are read from it when present.
        image_size_hint: (width, height) used for images that cannot be found.

    Returns:
        Views by image name.
    """
    lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    try:
        count = int(lines[0].split()[0])
    except (IndexError, ValueError) as err:
        raise GroundTruthFormatError(f"{path}: first line must be the number of images") from err
    if len(lines) - 1 != count:
        raise GroundTruthFormatError(f"{path}: header says {count} images, found {len(lines) - 1} lines")
    views = {}
    for number, line in enumerate(lines[1:], start=2):
        name, _, numbers = line.strip().partition(" ")
        values = _floats(numbers, 21, f"{path}: line {number}")
        pose = CameraPose(R=checked_rotation(values[9:18].reshape(3, 3), f"{path}: line {number}"), t=values[18:])
        size = _view_size(name, images_dir, image_size_hint, path)
        views[name] = GTView(
            name=name,
            camera=PinholeCamera(K=values[:9].reshape(3, 3), width=size[0], height=size[1]),
            pose=pose,
            image_path=images_dir / name if images_dir and (images_dir / name).is_file() else None,
        )
    return views


def _view_size(name: str, images_dir: Path | None, hint: tuple[int, int] | None, source: Path) -> tuple[int, int]:
    """Size of image ``name``: read from ``images_dir``, else ``hint``, else an error."""
    if images_dir is not None and (images_dir / name).is_file():
        return image_size(images_dir / name)
    if hint is None:
        raise GroundTruthFormatError(
            f"{source}: size of image {name!r} unknown; pass the images folder or an image size"
        )
    return hint


def read_strecha_camera(path: Path) -> tuple[np.ndarray, CameraPose, tuple[int, int]]:
    """Read one Strecha ``.camera`` file.

    Layout: K (3 lines), distortion ``0 0 0``, R camera-to-world (3 lines), centre C,
    ``width height``; world to camera is ``x_cam = R^T (X - C)``.

    Returns:
        K (3, 3) at the file's resolution, the ``cam_from_world`` pose and (width, height).
    """
    lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    if len(lines) < 9:
        raise GroundTruthFormatError(f"{path}: expected 9 lines (K, distortion, R, C, size), got {len(lines)}")
    K = np.stack([_floats(lines[i], 3, f"{path}: line {i + 1}") for i in range(3)])
    distortion = _floats(lines[3], 3, f"{path}: line 4")
    if np.any(distortion != 0):
        logger.warning("%s: non-zero distortion %s ignored", path, distortion)
    R_world_from_cam = np.stack([_floats(lines[i], 3, f"{path}: line {i + 1}") for i in range(4, 7)])
    center = _floats(lines[7], 3, f"{path}: line 8")
    width, height = _floats(lines[8], 2, f"{path}: line 9").astype(int)
    R = checked_rotation(R_world_from_cam, f"{path}: lines 5-7").T
    return K, CameraPose.from_center(R=R, center=center), (int(width), int(height))


def _strecha_scale(
    file_size: tuple[int, int], actual: tuple[int, int] | None, scale: float | None, where: Path
) -> float:
    """The factor from the calibrated resolution to the images' one, checked for consistency."""
    if actual is None:
        return 1.0 if scale is None else scale
    detected = actual[0] / file_size[0]
    if abs(actual[1] - file_size[1] * detected) > 1.0:
        raise GroundTruthFormatError(
            f"{where}: image size {actual} is not a uniform rescale of the calibrated {file_size}"
        )
    if scale is not None and abs(scale - detected) > 1e-3 * detected:
        raise GroundTruthFormatError(f"{where}: scale {scale} given, but the image size implies {detected:.6g}")
    return detected


def read_strecha_folder(cameras_dir: Path, *, images_dir: Path | None, scale: float | None) -> dict[str, GTView]:
    """Read every ``<image name>.camera`` of a folder, rescaling K to the images' resolution.

    Args:
        cameras_dir: folder of ``.camera`` files.
        images_dir: folder of the images; the scale is detected from each image's size.
        scale: image size / calibrated size, used where the image cannot be found (and
            checked against the detected one where it can).

    Returns:
        Views by image name.
    """
    views = {}
    for path in sorted(cameras_dir.glob("*.camera")):
        name = path.name[: -len(".camera")]
        K, pose, file_size = read_strecha_camera(path)
        image = images_dir / name if images_dir is not None else None
        actual = image_size(image) if image is not None and image.is_file() else None
        factor = _strecha_scale(file_size, actual, scale, image or path)
        size = actual or (int(np.floor(file_size[0] * factor + 1e-6)), int(np.floor(file_size[1] * factor + 1e-6)))
        camera = PinholeCamera(K=np.diag([factor, factor, 1.0]) @ K, width=size[0], height=size[1])
        views[name] = GTView(name=name, camera=camera, pose=pose, image_path=image if actual else None)
    if not views:
        raise GroundTruthFormatError(f"{cameras_dir}: no .camera files")
    return views


def read_rgbd_intrinsics(path: Path) -> np.ndarray:
    """Read ``K.txt``: a 3x3 pinhole matrix in OpenCV's pixel convention (top-left pixel centre at (0, 0)).

    Returns:
        (3, 3) K in the COLMAP convention used here (principal point moved by +0.5 px).
    """
    rows = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]
    if len(rows) != 3:
        raise GroundTruthFormatError(f"{path}: expected 3 rows of K, got {len(rows)}")
    K = np.stack([_floats(row, 3, f"{path}: row {i + 1}") for i, row in enumerate(rows)])
    if K[0, 0] <= 0 or K[1, 1] <= 0 or np.any(K[2] != [0, 0, 1]) or K[1, 0] != 0:
        raise GroundTruthFormatError(f"{path}: not a pinhole calibration matrix")
    return K + np.array([[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])


def read_rgbd_poses(path: Path) -> dict[str, CameraPose]:
    """Read ``poses_c2w.txt``: per line ``<image name>`` and a row-major 4x4 camera-to-world matrix
    (16 numbers; OpenCV camera axes: +x right, +y down, +z forward); ``#`` starts a comment line.

    Returns:
        ``cam_from_world`` poses by image name, in the file's order.
    """
    poses = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, numbers = line.strip().partition(" ")
        where = f"{path}: line {number}"
        matrix = _floats(numbers, 16, where).reshape(4, 4)
        if np.abs(matrix[3] - [0, 0, 0, 1]).max() > 1e-6:
            raise GroundTruthFormatError(f"{where}: last row must be 0 0 0 1")
        if name in poses:
            raise GroundTruthFormatError(f"{where}: image {name!r} given twice")
        world_from_cam = checked_rotation(matrix[:3, :3], where)
        poses[name] = CameraPose.from_center(R=world_from_cam.T, center=matrix[:3, 3])
    if not poses:
        raise GroundTruthFormatError(f"{path}: no poses")
    return poses
