"""The plumb-line fit on curved architecture: a pinhole camera looking at domes, round arches, a segmental
roofline and a round table (the outlines of 3D circles projected, filled, antialiased) beside a few straight
edges, as it is and through a known barrel lens. A lens bends straight edges by an amount fixed by where they
lie; curved things that no distortion in the search range straightens must not be read as distortion."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from photogrammetry.sfm import plumb
from photogrammetry.sfm.plumb_options import PlumbOptions

WIDTH, HEIGHT, FOCAL = 640, 480, 600.0
CENTRE = (WIDTH / 2, HEIGHT / 2)
K = np.array([[FOCAL, 0.0, CENTRE[0]], [0.0, FOCAL, CENTRE[1]], [0.0, 0.0, 1.0]])
RADIUS = plumb.corner_radius(WIDTH, HEIGHT, CENTRE)


def _arc(centre: tuple[float, float, float], radius: float, start: float, stop: float, upright: bool = True,
         count: int = 200) -> np.ndarray:
    """Points (count, 3) of a circle's arc from angle ``start`` to ``stop``: upright in a plane z = const (y up
    is -y: the world's y points down), or lying in a plane y = const."""
    t = np.linspace(start, stop, count)
    x, y, z = centre
    if upright:
        return np.stack([x + radius * np.cos(t), y - radius * np.sin(t), np.full(count, z)], axis=1)
    return np.stack([x + radius * np.cos(t), np.full(count, y), z + radius * np.sin(t)], axis=1)


def _fill(image: np.ndarray, outline: np.ndarray, pose: tuple[np.ndarray, np.ndarray], value: int) -> None:
    """``outline`` (N, 3) projected by the pinhole camera at ``pose`` (rvec, tvec) and filled with ``value``."""
    pixels = cv2.projectPoints(outline, *pose, K, None)[0].reshape(-1, 2)
    cv2.fillPoly(image, [np.round(pixels * 16).astype(np.int32)], value, cv2.LINE_AA, shift=4)


def _architecture(pose: tuple[np.ndarray, np.ndarray], cornice: bool) -> np.ndarray:
    """A grey photo (H, W) uint8 of a facade (the plane z = 0, the ground at y = 3 m) as a pinhole camera sees it:
    a big dome and two small ones behind it, a wall whose top is a shallow arc, five round arches standing on the
    ground (straight sides), a round table in front; with ``cornice`` a straight band across the wall."""
    image = np.full((HEIGHT, WIDTH), 200, np.uint8)
    for x, radius, z in ((0.0, 5.5, 4.0), (-7.5, 2.8, 1.5), (7.5, 2.8, 1.5)):
        _fill(image, _arc((x, -4.0, z), radius, 0.0, math.pi), pose, 120)
    roof = _arc((0.0, 14.0, 0.0), 18.5, math.radians(58), math.radians(122))
    _fill(image, np.concatenate([roof, [[-9.8, 3.0, 0.0], [9.8, 3.0, 0.0]]]), pose, 160)
    for i, x in enumerate(np.linspace(-7.0, 7.0, 5)):
        r = 2.2 if i == 2 else 1.2
        arch = _arc((x, 0.5 - (r - 1.2), 0.0), r, math.pi, 0.0)
        _fill(image, np.concatenate([[[x - r, 3.0, 0.0]], arch, [[x + r, 3.0, 0.0]]]), pose, 50)
    _fill(image, _arc((1.5, 2.2, -3.5), 1.6, 0.0, 2 * math.pi, upright=False), pose, 235)
    if cornice:
        _fill(image, np.array([[-9.8, -1.0, 0.0], [9.8, -1.0, 0.0], [9.8, -0.8, 0.0], [-9.8, -0.8, 0.0]]), pose, 100)
    return cv2.GaussianBlur(image, (0, 0), 0.8)


def _poses(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Camera poses (rvec, tvec) 12-16 m in front of the facade, a little aside, above and turned."""
    rng = np.random.default_rng(seed)
    poses = []
    for _ in range(count):
        centre = np.array([rng.uniform(-3, 3), rng.uniform(-1.5, 0.5), rng.uniform(-16, -12)])
        pitch, yaw = rng.uniform(-0.08, 0.12), rng.uniform(-0.12, 0.12)
        R = cv2.Rodrigues(np.array([pitch, 0.0, 0.0]))[0] @ cv2.Rodrigues(np.array([0.0, yaw, 0.0]))[0]
        poses.append((cv2.Rodrigues(R)[0], -R @ centre))
    return poses


def _through_lens(image: np.ndarray, k1: float) -> np.ndarray:
    """``image`` as a SIMPLE_RADIAL lens of ``k1`` (focal length FOCAL, principal point the centre) sees it."""
    grid = np.stack(np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT)), -1).reshape(-1, 1, 2).astype(np.float64)
    ideal = cv2.undistortPoints(grid, K, np.array([k1, 0.0, 0.0, 0.0]), P=K).reshape(HEIGHT, WIDTH, 2)
    return cv2.remap(image, ideal[..., 0].astype(np.float32), ideal[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _photos(seed: int, k1: float = 0.0, cornice: bool = False) -> list[np.ndarray]:
    return [_through_lens(_architecture(pose, cornice), k1) for pose in _poses(6, seed)]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_pinhole_looking_at_domes_and_arches_finds_no_distortion(seed):
    options = PlumbOptions()
    fit = plumb.measure(_photos(seed), FOCAL, CENTRE, options)
    assert fit.curved > 0, fit.describe()  # the dome tops and the roofline are left out, not fitted
    if fit.evident:
        assert abs(fit.corner_shift) < 0.006, fit.describe()  # 2.4 px at the corners; the check's floor is 1 %
        assert not fit.excludes(0.0, options), fit.describe()


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_scene_through_a_barrel_lens_is_measured(seed):
    options = PlumbOptions()
    truth = plumb.corner_shift(-0.12, FOCAL, RADIUS)  # -5.3 % at the corners
    fit = plumb.measure(_photos(seed, k1=-0.12, cornice=True), FOCAL, CENTRE, options)
    assert fit.evident, fit.describe()
    assert fit.corner_shift == pytest.approx(truth, abs=0.006), fit.describe()
    assert fit.excludes(0.0, options) and not fit.excludes(truth, options)


def test_edges_that_no_lens_in_the_range_straightens_are_left_out():
    """A dome's flat top, one LSD segment long, against a straight edge: residuals over the search range."""
    grid = np.linspace(-0.2, 0.2, 9)
    straight = np.array([0.8, 0.6, 0.4, 0.2, 0.05, 0.2, 0.4, 0.6, 0.8])  # straightest inside the range
    dome = np.array([1.0, 1.2, 1.5, 1.8, 2.1, 2.3, 2.5, 2.6, 2.7])  # straightest at its end
    flat = np.full(len(grid), 0.03)  # through the centre: no distortion bends it, nothing to say
    bent = plumb._bent_beyond_range(np.stack([straight, dome, flat, dome[::-1]], axis=1))
    assert bent.tolist() == [False, True, False, True]
