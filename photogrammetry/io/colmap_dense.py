"""COLMAP's dense-workspace files, so that COLMAP's own tools read our depth, normals and fused cloud.

A COLMAP dense workspace is a folder with ``images/`` (undistorted images), ``sparse/`` (their
PINHOLE model) and ``stereo/``: ``fusion.cfg`` (the image names to fuse, one a line),
``depth_maps/<name>.geometric.bin`` and ``normal_maps/<name>.geometric.bin``. The depth stage
writes one as ``colmap/`` inside its artifact: ``images`` and ``sparse`` are relative symbolic
links to the undistort artifact's folders (so the workspace stays valid when the whole workspace
folder is moved; it breaks when the undistort artifact is deleted), ``stereo/`` holds our maps.
``colmap stereo_fusion --workspace_path <depth artifact>/colmap --input_type geometric`` (or
``pycolmap.stereo_fusion``) reads it as it reads its own patch-match output.

Array format (COLMAP's ``mvs/mat.h``, documented by its ``scripts/python/read_write_dense.py``):
the ASCII header ``<width>&<height>&<channels>&``, then ``width * height * channels`` little-endian
float32 in column-major order of ``(width, height, channels)`` (x fastest, then y, then the
channel). Depths are along the camera z axis in the model's units, 0 = none; normals are unit
vectors in the camera frame (``+z`` forward, ``+y`` down), facing the camera, 0 where the depth is 0.

``fused.ply.vis`` (beside a fused cloud, read by COLMAP's ``delaunay_mesher``): a little-endian
uint64 point count, then per point (in the PLY's order) a uint32 count of the views that saw it
and that many uint32 image indices of COLMAP's MVS model (its images in the order it reads them,
``pycolmap.MVSModel.get_image_idx``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from photogrammetry.io.jsonio import write_bytes_atomic

WORKSPACE = "colmap"
"""Name of the COLMAP dense workspace inside the depth artifact."""
INPUT_TYPE = "geometric"
"""COLMAP's name for maps filtered by multi-view consistency (``--input_type geometric``)."""


def array_bytes(array: np.ndarray) -> bytes:
    """``(H, W)`` or ``(H, W, C)`` array as the bytes of a COLMAP ``.bin`` array."""
    planes = array[:, :, None] if array.ndim == 2 else array
    height, width, channels = planes.shape
    header = f"{width}&{height}&{channels}&".encode("ascii")
    return header + np.ascontiguousarray(planes.transpose(2, 0, 1), dtype="<f4").tobytes()


def write_array(path: Path, array: np.ndarray) -> None:
    """Write one COLMAP ``.bin`` array atomically (folders made)."""
    write_bytes_atomic(path, array_bytes(array))


def read_array(path: Path) -> np.ndarray:
    """Read a COLMAP ``.bin`` array: ``(H, W)`` for one channel, else ``(H, W, C)`` float32."""
    data = path.read_bytes()
    fields = data.split(b"&", 3)
    if len(fields) != 4:
        raise ValueError(f"{path}: not a COLMAP array (no 'width&height&channels&' header)")
    width, height, channels = (int(f) for f in fields[:3])
    values = np.frombuffer(fields[3], dtype="<f4")
    if values.size != width * height * channels:
        raise ValueError(f"{path}: {values.size} values for {width}x{height}x{channels}")
    array = values.reshape(channels, height, width).transpose(1, 2, 0)
    return array[:, :, 0].copy() if channels == 1 else array.copy()


def depth_map_path(workspace: Path, name: str) -> Path:
    """``stereo/depth_maps/<name>.geometric.bin`` of ``workspace``."""
    return workspace / "stereo" / "depth_maps" / f"{name}.{INPUT_TYPE}.bin"


def normal_map_path(workspace: Path, name: str) -> Path:
    """``stereo/normal_maps/<name>.geometric.bin`` of ``workspace``."""
    return workspace / "stereo" / "normal_maps" / f"{name}.{INPUT_TYPE}.bin"


def link_workspace(workspace: Path, undistorted: Path, names: Sequence[str]) -> None:
    """Make ``workspace`` a COLMAP dense workspace over the undistort artifact ``undistorted``:
    relative links to its ``images`` and ``sparse``, its ``patch-match.cfg`` when it has one, and
    a ``fusion.cfg`` naming ``names`` (the views with maps)."""
    stereo = workspace / "stereo"
    stereo.mkdir(parents=True, exist_ok=True)
    for folder in ("images", "sparse"):
        link = workspace / folder
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(Path(undistorted, folder).resolve(), workspace.resolve()),
                        target_is_directory=True)
    if (undistorted / "stereo" / "patch-match.cfg").is_file():
        shutil.copyfile(undistorted / "stereo" / "patch-match.cfg", stereo / "patch-match.cfg")
    write_bytes_atomic(stereo / "fusion.cfg", "".join(f"{name}\n" for name in names).encode("utf-8"))


def write_maps(workspace: Path, name: str, depth: np.ndarray, normals: np.ndarray) -> None:
    """Write one view's depth ``(H, W)`` and normal ``(H, W, 3)`` maps into ``workspace``."""
    write_array(depth_map_path(workspace, name), depth)
    write_array(normal_map_path(workspace, name), normals)


def write_visibility(path: Path, counts: np.ndarray, indices: np.ndarray) -> None:
    """Write ``fused.ply.vis``: point ``i`` was seen by ``counts[i]`` views, whose MVS image
    indices follow in ``indices`` (all points' lists concatenated in point order)."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.arange(len(counts)) + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    words = np.empty(len(counts) + int(counts.sum()), dtype="<u4")
    listed = np.ones(len(words), dtype=bool)
    listed[starts] = False
    words[starts] = counts
    words[listed] = indices
    write_bytes_atomic(path, np.array([len(counts)], dtype="<u8").tobytes() + words.tobytes())


def read_visibility(path: Path) -> list[np.ndarray]:
    """Read ``fused.ply.vis``: per point, the image indices that saw it."""
    data = path.read_bytes()
    count = int(np.frombuffer(data[:8], dtype="<u8")[0])
    words = np.frombuffer(data[8:], dtype="<u4")
    views, at = [], 0
    for _ in range(count):
        n = int(words[at])
        views.append(words[at + 1:at + 1 + n].copy())
        at += 1 + n
    if at != len(words):
        raise ValueError(f"{path}: {len(words) - at} words left after {count} points")
    return views
