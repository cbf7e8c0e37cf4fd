"""Test helper: ArUco markers painted onto the platform of a rendered turntable scene.

The markers lie flat on the platform's top (z = 0 in the object frame), so they turn with the
object; each view's ground-truth camera maps them into the photo by a homography. Occlusion
by the object is approximated: a marker whose centre lies farther from the camera than the
turntable's axis (the world origin) is left out of that view.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DICTIONARY = cv2.aruco.DICT_4X4_50


def marker_corners(centre_xy: tuple[float, float], side: float, angle: float = 0.0) -> np.ndarray:
    """(4, 3) world corners (top-left, top-right, bottom-right, bottom-left) of a flat marker."""
    c, s = np.cos(angle), np.sin(angle)
    local = np.array([(-1, 1), (1, 1), (1, -1), (-1, -1)], float) * side / 2
    xy = local @ np.array([[c, s], [-s, c]]) + centre_xy
    return np.column_stack([xy, np.zeros(4)])


def ring_of_markers(radius: float, side: float, count: int) -> list[tuple[int, np.ndarray]]:
    """``count`` markers (ids 0..count-1) evenly around the platform at ``radius``, metres."""
    return [(i, marker_corners((radius * np.cos(a), radius * np.sin(a)), side, a))
            for i, a in enumerate(np.linspace(0, 2 * np.pi, count, endpoint=False))]


def paint(image: np.ndarray, K: np.ndarray, cam_from_world: np.ndarray, markers: list[tuple[int, np.ndarray]],
          pixels: int = 96) -> np.ndarray:
    """``image`` with each marker (id, (4, 3) world corners) drawn in, with a white border."""
    dictionary = cv2.aruco.getPredefinedDictionary(DICTIONARY)
    out = image.copy()
    pad = pixels // 6
    for marker_id, corners in markers:
        tile = cv2.copyMakeBorder(cv2.aruco.generateImageMarker(dictionary, marker_id, pixels), pad, pad, pad, pad,
                                  cv2.BORDER_CONSTANT, value=255)
        cam = (cam_from_world[:, :3] @ corners.T).T + cam_from_world[:, 3]
        if (cam[:, 2] <= 0).any() or cam[:, 2].mean() > cam_from_world[2, 3]:
            continue
        proj = (K @ cam.T).T
        dst = (proj[:, :2] / proj[:, 2:]).astype(np.float32) - 0.5
        src = np.float32([(0, 0), (pixels, 0), (pixels, pixels), (0, pixels)]) + pad
        H = cv2.getPerspectiveTransform(src, dst)
        size = (image.shape[1], image.shape[0])
        warped = cv2.warpPerspective(cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR), H, size, flags=cv2.INTER_AREA)
        cover = cv2.warpPerspective(np.full(tile.shape, 255, np.uint8), H, size) > 128
        out[cover] = warped[cover]
    return out


def paint_scene(scene: Path, out: Path, markers: list[tuple[int, np.ndarray]]) -> Path:
    """The photos of a sample scene with ``markers`` painted in, written to ``out``; returns ``out``."""
    import pycolmap

    model = pycolmap.Reconstruction(scene / "gt" / "sparse")
    out.mkdir(parents=True, exist_ok=True)
    for image in model.images.values():
        K = model.cameras[image.camera_id].calibration_matrix()
        photo = cv2.imread(str(scene / "images" / image.name))
        cv2.imwrite(str(out / Path(image.name).with_suffix(".png")),
                    paint(photo, K, image.cam_from_world().matrix(), markers))
    return out
