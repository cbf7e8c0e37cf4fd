"""The turntable scripting API: settings from a capture description, batches, calibration reuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import photogrammetry.turntable as turntable
from photogrammetry.engine.runner import RunResult, StageOutcome
from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.stages import PIPELINE
from photogrammetry.turntable import Turntable, run_batch


def test_overrides_make_a_valid_configuration(tmp_path: Path) -> None:
    capture = Turntable(tmp_path, steps=36, rings=2, flip_after=72, marker_mm=40.0, window=3)
    config = resolve_config(PIPELINE, preset=capture.preset, overrides=capture.overrides())
    assert config["masks"].method == "background" and not config["undistort"].remove_platform  # flipped
    assert (config["pairs"].method, config["pairs"].ring_size, config["pairs"].flip_after) == ("turntable", 36, 72)
    assert capture.expected_photos() == 144
    assert (config["export"].frame.up, config["export"].frame.views) == ("turntable", 72)  # the first pass's axis
    camera = Turntable(tmp_path, steps=36, camera_distance_mm=612.5)
    config = resolve_config(PIPELINE, preset="turntable", overrides=camera.overrides())
    assert (config["scale"].method, config["scale"].radius_mm, config["scale"].ring_size) == ("radius", 612.5, 36)
    platform = resolve_config(PIPELINE, preset="turntable", overrides=Turntable(tmp_path, radius_mm=150).overrides())
    assert (platform["scale"].method, platform["scale"].radius_mm) == ("platform", 150.0)
    assert platform["undistort"].remove_platform
    assert platform["pairs"].method == "auto"  # every pair by default (measured better on 16-24 views)


def test_markers_and_user_masks(tmp_path: Path) -> None:
    capture = Turntable(tmp_path, steps=24, marker_mm=40.0, masks=str(tmp_path / "masks"))
    config = resolve_config(PIPELINE, preset="turntable", overrides=capture.overrides())
    assert (config["scale"].method, config["scale"].marker.marker_mm) == ("marker", 40.0)
    assert config["masks"].method == "folder" and config["masks"].folder == str(tmp_path / "masks")


def test_bad_descriptions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not several"):
        Turntable(tmp_path, radius_mm=150.0, marker_mm=40.0)
    with pytest.raises(ConfigError, match="give marker_mm"):
        Turntable(tmp_path, steps=24, flip_after=24, radius_mm=150.0)
    with pytest.raises(ConfigError, match="rings >= 1"):
        Turntable(tmp_path, rings=0)


def test_batch_reuses_the_first_calibration_and_goes_on_after_a_failure(tmp_path: Path, monkeypatch) -> None:
    for name in ("a_mug", "b_shoe", "c_broken", "d_vase"):
        (tmp_path / "shoots" / name).mkdir(parents=True)
    calls: list[tuple[str, list[str]]] = []

    def fake_run(photos, workspace, *, overrides, **_):
        calls.append((Path(photos).name, list(overrides)))
        if Path(photos).name == "c_broken":
            raise StageError("no image pair survived geometric verification")
        folder = Path(workspace) / "sfm" / "k"
        return RunResult(workspace=Path(workspace), stages=(StageOutcome(name="sfm", key="k", action="ran", seconds=0.0,
                                                                         folder=folder, counts={}),))

    monkeypatch.setattr(turntable, "run_pipeline", fake_run)
    items = list(run_batch(tmp_path / "shoots", tmp_path / "work", Turntable.template(steps=24)))
    assert [(i.name, i.ok) for i in items] == [("a_mug", True), ("b_shoe", True), ("c_broken", False), ("d_vase", True)]
    first_model = tmp_path / "work" / "a_mug" / "sfm" / "k" / "model"
    assert not any(o.startswith("sfm.calibration") for o in calls[0][1])
    for _, overrides in calls[1:]:
        assert f"sfm.calibration={first_model}" in overrides and "sfm.refine_focal_length=false" in overrides
    assert "geometric verification" in items[2].error


def test_sfm_calibration_overwrites_the_database_cameras(tmp_path: Path) -> None:
    import pycolmap

    from photogrammetry.stages.sfm import SfmConfig, _apply_calibration, fingerprint

    calibrated = pycolmap.Reconstruction()
    calibrated.add_camera(pycolmap.Camera(model="SIMPLE_RADIAL", width=64, height=48, params=[70.0, 31.0, 23.0, 0.02],
                                          camera_id=1))
    (tmp_path / "calib").mkdir()
    calibrated.write_binary(str(tmp_path / "calib"))
    with pycolmap.Database.open(tmp_path / "db.db") as db:
        db.write_camera(pycolmap.Camera(model="SIMPLE_RADIAL", width=64, height=48, params=[80.0, 32.0, 24.0, 0.0]))
    config = SfmConfig(calibration=str(tmp_path / "calib"))
    assert _apply_calibration(tmp_path / "db.db", config) == {1}
    with pycolmap.Database.open(tmp_path / "db.db") as db:
        camera = db.read_all_cameras()[0]
    assert np.allclose(camera.params, [70.0, 31.0, 23.0, 0.02]) and camera.has_prior_focal_length
    assert fingerprint(config, tmp_path)["calibration_sha256"]
    assert fingerprint(SfmConfig(), tmp_path) is None
