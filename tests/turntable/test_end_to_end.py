"""The turntable sample scene end to end, up to sfm (about a minute per run on two CPU cores).

Its static textured wall and table fill most of each photo: without masks, SfM locks onto
them (they stay still while the object turns) and fails or degrades; with the background
masks every view registers accurately, and the radius gives metres.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import photogrammetry.api as api
from photogrammetry.errors import StageError
from photogrammetry.io.scale import load_scale
from photogrammetry.turntable import Turntable

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "turntable"
PLATFORM_RADIUS_MM = 136.33


def test_masks_make_the_turntable_work_and_none_does_not(tmp_path: Path) -> None:
    capture = Turntable(SCENE / "images", steps=24, radius_mm=PLATFORM_RADIUS_MM)
    result = capture.run(tmp_path / "masked", until="scale", device="cpu", workers=1, progress=False)
    poses = api.evaluate(tmp_path / "masked", SCENE).poses
    assert poses.num_registered == 24
    assert poses.rotation_error_median_deg < 0.3
    scale = load_scale(result.folder("scale")).info
    assert scale.units == "metres" and scale.relative_uncertainty < 0.01
    # in metres; the cameras' circle may be off by SfM's focal length error (the object is not)
    assert poses.alignment.scale == pytest.approx(1.0, rel=0.03)

    # Without masks the COLMAP SIFT assist would only lock onto the same background, at length.
    unmasked = Turntable(SCENE / "images", steps=24, masks="none", extra=("sfm.sift.assist=false",))
    try:
        unmasked.run(tmp_path / "unmasked", until="sfm", device="cpu", workers=1, progress=False)
    except StageError:
        return  # failing outright is one way of showing it
    poses = api.evaluate(tmp_path / "unmasked", SCENE).poses
    assert poses.num_registered < 24 or poses.rotation_error_median_deg > 2.0
