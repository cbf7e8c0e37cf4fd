"""benchmarks/photo_focal.py: the focal length a pair of photos, a depth map and their poses agree on."""

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from benchmarks.photo_focal import focal_curve

SIZE = (240, 320)  # rows, columns


def render(texture: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray, wall: float) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """A camera (K, world-to-camera R, t) seeing a textured wall at world z = ``wall`` (texture pixel = 0.01
    units, centred): the grey image and its z-depth."""
    rows, cols = np.mgrid[0:SIZE[0], 0:SIZE[1]]
    rays = np.linalg.inv(K) @ np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5, np.ones(rows.size)])
    centre = -R.T @ t
    directions = R.T @ rays
    along = (wall - centre[2]) / directions[2]
    points = centre[:, None] + directions * along
    u = (points[0] / 0.01 + texture.shape[1] / 2).reshape(SIZE).astype(np.float32)
    v = (points[1] / 0.01 + texture.shape[0] / 2).reshape(SIZE).astype(np.float32)
    image = cv2.remap(texture, u, v, cv2.INTER_LINEAR)
    depth = (R @ points + t[:, None])[2].reshape(SIZE)
    return image, depth


@pytest.mark.parametrize("true_scale", [1.0, 0.97])
def test_the_curve_peaks_at_the_focal_length_the_photos_were_taken_with(true_scale):
    """Two views of a textured wall, the second turned by 6 degrees: rendered with K's focal length times
    ``true_scale``, the ZNCC peaks at that scale of K (the pair given K) and is lower 2 % away (0.6 px of misplacement)."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (1200, 1600)).astype(np.float32), (0, 0), 2.0)
    K = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
    shot = K.copy()
    shot[0, 0] = shot[1, 1] = 300.0 * true_scale
    Ra, ta = np.eye(3), np.zeros(3)
    Rb = Rotation.from_euler("y", 6, degrees=True).as_matrix()
    tb = -Rb @ np.array([0.1, 0.0, 0.0])
    grey_a, depth_a = render(texture, shot, Ra, ta, wall=3.0)
    grey_b, _ = render(texture, shot, Rb, tb, wall=3.0)
    scales = np.round(np.arange(0.94, 1.0401, 0.005), 3)
    curve = focal_curve(grey_a, grey_b, depth_a, K, (Ra, ta), (Rb, tb), scales)
    best = scales[int(np.nanargmax(curve))]
    assert best == pytest.approx(true_scale, abs=0.0051)
    at = lambda s: curve[int(np.argmin(np.abs(scales - s)))]  # noqa: E731
    assert at(true_scale) - max(at(true_scale - 0.02), at(true_scale + 0.02)) > 0.005
