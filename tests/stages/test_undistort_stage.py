"""The undistort stage's pixel map (masks are warped with it)."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.stages.undistort import pixel_map


def test_pixel_map_follows_the_distortion() -> None:
    import pycolmap

    pinhole = pycolmap.Camera(model="PINHOLE", width=64, height=48, params=[50.0, 50.0, 32.0, 24.0])
    same = pixel_map(pinhole, pinhole)
    assert np.allclose(same[0][0, :3], [0, 1, 2], atol=1e-4) and np.allclose(same[1][:3, 0], [0, 1, 2], atol=1e-4)
    radial = pycolmap.Camera(model="SIMPLE_RADIAL", width=64, height=48, params=[50.0, 32.0, 24.0, 0.1])
    map_x, map_y = pixel_map(radial, pinhole)
    assert map_x[24, 32] == pytest.approx(32.0, abs=1e-3)  # the centre stays
    assert map_x[24, 0] < 0.0 and map_x[24, 63] > 63.0  # positive k pushes the edges outwards
