"""The plumb-line fit: radial distortion from straight edges, on synthetic photos of dashed straight lines
seen through a known lens (COLMAP's SIMPLE_RADIAL), and its "no evidence" answers."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pycolmap
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.sfm import plumb
from photogrammetry.sfm.plumb_options import PlumbOptions

WIDTH, HEIGHT, FOCAL = 640, 480, 600.0
CENTRE = (WIDTH / 2, HEIGHT / 2)
K = np.array([[FOCAL, 0.0, CENTRE[0]], [0.0, FOCAL, CENTRE[1]], [0.0, 0.0, 1.0]])


def _pinhole_photo(rng: np.random.Generator, lines: int = 14, dash: tuple[float, float] = (36.0, 10.0)) -> np.ndarray:
    """A grey photo (H, W) uint8 of ``lines`` long straight dashed lines (dashes of ``dash[0]`` px, gaps of
    ``dash[1]``) at random places and angles, as a pinhole camera sees them."""
    image = np.full((HEIGHT, WIDTH), 90, np.uint8)
    for _ in range(lines):
        centre = rng.uniform((0, 0), (WIDTH, HEIGHT))
        angle = rng.uniform(0, math.pi)
        direction = np.array([math.cos(angle), math.sin(angle)])
        for t in np.arange(-800.0, 800.0, dash[0] + dash[1]):
            a, b = centre + t * direction, centre + (t + dash[0]) * direction
            cv2.line(image, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)), 210, 3,
                     cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(image, (0, 0), 0.8)


def _through_lens(image: np.ndarray, k1: float) -> np.ndarray:
    """``image`` as a SIMPLE_RADIAL lens of ``k1`` (focal length FOCAL, principal point the centre) sees it."""
    grid = np.stack(np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT)), -1).reshape(-1, 1, 2).astype(np.float64)
    ideal = cv2.undistortPoints(grid, K, np.array([k1, 0.0, 0.0, 0.0]), P=K).reshape(HEIGHT, WIDTH, 2)
    return cv2.remap(image, ideal[..., 0].astype(np.float32), ideal[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _photos(k1s: list[float], seed: int = 0, **kwargs) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [_through_lens(_pinhole_photo(rng, **kwargs), k1) for k1 in k1s]


@pytest.mark.parametrize("k1", [-0.12, -0.04, 0.0, 0.04, 0.12])
def test_straight_lines_give_the_lens_k1(k1):
    fit = plumb.measure(_photos([k1] * 6), FOCAL, CENTRE, PlumbOptions())
    assert fit.evident, fit.describe()
    assert fit.k1(FOCAL) == pytest.approx(k1, abs=0.006), fit.describe()
    if k1:
        assert np.sign(fit.k1(FOCAL)) == np.sign(k1)
    assert fit.sd < 0.005
    radius = plumb.corner_radius(WIDTH, HEIGHT, CENTRE)
    assert fit.corner_shift == pytest.approx(plumb.corner_shift(fit.k1(FOCAL), FOCAL, radius))


def test_the_corner_shift_does_not_depend_on_the_focal_length_given():
    photos = _photos([-0.12] * 4, seed=1)
    at_true, at_long = (plumb.measure(photos, f, CENTRE, PlumbOptions()) for f in (FOCAL, 1.3 * FOCAL))
    assert at_long.corner_shift == pytest.approx(at_true.corner_shift, abs=0.003)
    assert at_long.k1(1.3 * FOCAL) == pytest.approx(1.3**2 * at_true.k1(FOCAL), rel=0.05)


def test_random_segments_are_no_evidence():
    rng = np.random.default_rng(2)
    photos = []
    for _ in range(6):  # 200 segments of 15-60 px a photo, at random places, angles and contrasts
        image = np.full((HEIGHT, WIDTH), 90, np.uint8)
        for _ in range(200):
            a = rng.uniform((0, 0), (WIDTH, HEIGHT))
            b = a + rng.uniform(15, 60) * np.array([math.cos(t := rng.uniform(0, math.pi)), math.sin(t)])
            cv2.line(image, tuple(a.astype(int)), tuple(b.astype(int)), int(rng.integers(0, 256)), 2, cv2.LINE_AA)
        photos.append(cv2.GaussianBlur(image, (0, 0), 0.8))
    fit = plumb.measure(photos, FOCAL, CENTRE, PlumbOptions())
    assert not fit.evident and fit.k1(FOCAL) is None
    assert fit.lines < PlumbOptions().min_lines


def test_photos_that_disagree_are_no_evidence():
    fit = plumb.measure(_photos([-0.12, 0.12] * 3, seed=3), FOCAL, CENTRE, PlumbOptions())
    assert not fit.evident
    assert "disagree" in fit.reason


def test_too_few_photos_are_no_evidence():
    fit = plumb.measure(_photos([-0.12] * 2), FOCAL, CENTRE, PlumbOptions())
    assert not fit.evident and fit.photos == 2


def test_the_lines_side_with_the_fit_nearer_them_and_exclude_the_other():
    options = PlumbOptions()
    fit = plumb.PlumbFit(corner_shift=-0.064, sd=0.003, lines=116, photos=11, radius=324.5)
    assert fit.prefers(-0.048, 0.0, options)  # the barrel office frames: the free fit against the held one
    assert not fit.prefers(0.0, -0.048, options)
    assert not fit.prefers(-0.14, 0.0, options)  # beyond the lines by more than the held fit is
    flat = plumb.PlumbFit(corner_shift=0.001, sd=0.005, lines=183, photos=20, radius=324.5)
    assert not flat.prefers(0.016, 0.0, options)  # the office frames as they are: a noise-fitted free fit
    assert not flat.excludes(0.01, options)
    small = plumb.PlumbFit(corner_shift=0.017, sd=0.006, lines=230, photos=13, radius=324.5)
    assert not small.prefers(0.014, 0.0, options)  # within what the lines' bias allows (min_sd)
    assert small.prefers(0.014, 0.0, dataclasses.replace(options, min_sd=0.005))
    none = plumb.PlumbFit(None, None, lines=6, photos=4, radius=324.5, reason="too few")
    assert not none.prefers(-0.048, 0.0, options)


def test_a_cameras_corner_shift_is_its_k1_at_the_farthest_corner():
    camera = pycolmap.Camera(model="SIMPLE_RADIAL", width=WIDTH, height=HEIGHT, params=[FOCAL, *CENTRE, -0.1])
    radius = plumb.corner_radius(WIDTH, HEIGHT, CENTRE)
    assert plumb.fit_corner_shift(camera, radius) == pytest.approx(plumb.corner_shift(-0.1, FOCAL, radius))


def test_options_out_of_range_are_refused():
    with pytest.raises(ConfigError, match="min_lines"):
        PlumbOptions(min_lines=0)
    with pytest.raises(ConfigError, match="max_corner_shift"):
        PlumbOptions(max_corner_shift=0.6)


def _model(k1: float, focal: float, names: list[str]) -> pycolmap.Reconstruction:
    """A model of one SIMPLE_RADIAL camera (``focal``, ``k1``) and ``names`` registered (identity poses)."""
    model = pycolmap.Reconstruction()
    model.add_camera_with_trivial_rig(pycolmap.Camera(model="SIMPLE_RADIAL", width=WIDTH, height=HEIGHT,
                                                      params=[focal, *CENTRE, k1], camera_id=1))
    for i, name in enumerate(names, start=1):
        model.add_image_with_trivial_frame(pycolmap.Image(name=name, camera_id=1, image_id=i), pycolmap.Rigid3d())
    return model


def test_the_lines_confirm_a_free_fit_of_the_lens_and_not_of_a_pinhole(tmp_path, caplog):
    names = [f"{i:03d}.png" for i in range(5)]
    for name, photo in zip(names, _photos([-0.12] * 5, seed=4)):
        cv2.imwrite(str(tmp_path / name), photo)
    held = _model(0.0, 1.35 * FOCAL, names)  # the barrel office frames: held, the focal length 35 % long
    options = PlumbOptions()
    with caplog.at_level("INFO", logger="photogrammetry.sfm"):
        checks = plumb.lens_checks(_model(-0.10, 1.03 * FOCAL, names), held, tmp_path, options)
    assert plumb.confirms_free(checks)
    assert "they side with the free fit" in caplog.text
    wrong = plumb.lens_checks(_model(+0.10, FOCAL, names), held, tmp_path, options)  # the wrong sign
    assert not plumb.confirms_free(wrong) and wrong[1].sides_with != "free" and not wrong[1].decided
    for name, photo in zip(names, _photos([0.0] * 5, seed=4)):
        cv2.imwrite(str(tmp_path / name), photo)
    assert not plumb.confirms_free(plumb.lens_checks(_model(-0.03, FOCAL, names), _model(0.0, FOCAL, names), tmp_path,
                                                     options))


def test_each_cameras_check_records_what_the_lines_measured_and_whether_it_decided(tmp_path):
    """The record that goes into ``sfm.json`` (#24): the lines' corner shift, its sd, the lines and photos,
    both fits' corner shifts, the side taken and whether it decided; the no-evidence answer with its reason."""
    names = [f"{i:03d}.png" for i in range(5)]
    for name, photo in zip(names, _photos([-0.12] * 5, seed=4)):
        cv2.imwrite(str(tmp_path / name), photo)
    free, held = _model(-0.10, 1.03 * FOCAL, names), _model(0.0, 1.35 * FOCAL, names)
    check = plumb.lens_checks(free, held, tmp_path, PlumbOptions())[1]
    fit = plumb.camera_lines(free, 1, tmp_path, PlumbOptions())
    assert check.corner_shift == pytest.approx(fit.corner_shift, abs=1e-6) and check.corner_shift < 0
    assert check.corner_shift_sd == pytest.approx(fit.sd, abs=1e-6) and check.corner_shift_sd > 0
    assert (check.lines, check.photos, check.reason) == (fit.lines, 5, "") and check.lines >= 20
    assert check.radius_px == pytest.approx(math.hypot(*CENTRE), abs=1e-3)
    assert check.free_corner_shift < 0 and check.held_corner_shift == pytest.approx(0.0, abs=1e-9)
    assert check.sides_with == "free" and check.decided
    few = plumb.lens_checks(free, held, tmp_path, PlumbOptions(min_photos=6))[1]  # 5 photos: no evidence
    assert few.reason and few.sides_with == "neither" and not few.decided


def test_photos_unreadable_or_of_another_size_are_left_out_not_fatal(tmp_path):
    names = [f"{i:03d}.png" for i in range(5)]
    for name, photo in zip(names, _photos([-0.12] * 5, seed=4)):
        cv2.imwrite(str(tmp_path / name), photo)
    model = _model(-0.10, 1.03 * FOCAL, names)
    whole = plumb.camera_lines(model, 1, tmp_path, PlumbOptions())
    (tmp_path / names[0]).write_bytes(b"not an image")
    cv2.imwrite(str(tmp_path / names[1]), np.zeros((HEIGHT // 2, WIDTH // 2), np.uint8))
    fewer = plumb.camera_lines(model, 1, tmp_path, PlumbOptions())
    assert 0 < fewer.photos == whole.photos - 2
    assert plumb.confirms_free(plumb.lens_checks(model, _model(0.0, 1.35 * FOCAL, names), tmp_path, PlumbOptions()))
