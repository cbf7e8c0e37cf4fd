"""Cutting the turntable's platform out of masks, on the turntable sample scene's ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.masking.platform import View, platform_pixels
from photogrammetry.scale.geometry import estimate_platform

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "turntable"


@pytest.fixture(scope="module")
def model():
    import pycolmap

    return pycolmap.Reconstruction(SCENE / "gt" / "sparse")


def test_platform_geometry(model) -> None:
    centres = np.array([im.projection_center() for im in model.images.values()])
    platform = estimate_platform(centres, np.array([p.xyz for p in model.points3D.values()]))
    assert np.allclose(platform.axis, [0, 0, 1], atol=1e-3)  # world z is up, the platform's top at z = 0
    assert np.allclose(platform.centre, 0, atol=2e-3)
    assert platform.radius == pytest.approx(0.1363, rel=0.03)


def test_cut_keeps_the_object_and_drops_the_platform(model) -> None:
    images = sorted(model.images.values(), key=lambda im: im.name)
    centres = np.array([im.projection_center() for im in images])
    platform = estimate_platform(centres, np.array([p.xyz for p in model.points3D.values()]))

    def view(image) -> View:
        grey = cv2.imread(str(SCENE / "images" / image.name), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        return View(K=model.cameras[image.camera_id].calibration_matrix(),
                    cam_from_world=image.cam_from_world().matrix(), grey=cv2.GaussianBlur(grey, (5, 5), 0))

    for i in (0, 9):  # two views, their two neighbours on each side
        stem = Path(images[i].name).stem
        rigid = cv2.imread(str(SCENE / "gt" / "depth" / f"{stem}.png"), cv2.IMREAD_UNCHANGED) > 0  # object + platform
        obj = cv2.imread(str(SCENE / "gt" / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        cut = platform_pixels(view(images[i]), [view(images[(i + d) % len(images)]) for d in (-2, -1, 1, 2)], platform)
        kept = rigid & ~cut
        assert (kept & obj).sum() / (kept | obj).sum() > 0.85
        assert (rigid & obj).sum() / (rigid | obj).sum() < 0.6  # the platform was a large part before
