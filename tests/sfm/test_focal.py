"""Focal lengths without EXIF: captures that make them hard, a user's prior, and the diagnosis."""

from __future__ import annotations

import dataclasses
import json
import logging

import pycolmap
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.io.sfm import CameraInfo
from photogrammetry.sfm.intrinsics import focal_warning, other_fit, user_focal, with_user_focal
from photogrammetry.sfm.intrinsics import FORWARD_MOTION
from photogrammetry.sfm.distortion import corner_shift_px, distortion_min_gain
from photogrammetry.sfm.options import SfmOptions
from photogrammetry.sfm.refine_options import RefinementOptions
from tests.sfm.conftest import run_sfm
from tests.sfm.rigs import forward_video, narrow_ring, sideways_walk, write_rig
from tests.sfm.synthetic import SyntheticScene


def _scene(rig, folder) -> SyntheticScene:
    ingest, features, matches = write_rig(rig, folder)
    return SyntheticScene(ingest=ingest, features=features, matches=matches, truth=None)


def _focal(result) -> float:
    return next(iter(pycolmap.Reconstruction(result.model).cameras.values())).focal_length


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    rig = narrow_ring()
    return rig, _scene(rig, tmp_path_factory.mktemp("narrow"))


def test_a_long_lens_registers_every_view_with_its_focal_length(narrow, tmp_path):
    # 3,000 px on 640 x 480 images, starting from COLMAP's guess of 768 px: with the distortion
    # refined while mapping this ring breaks into pieces of 2-6 views; the retry with it held does not
    rig, scene = narrow
    result = run_sfm(scene, tmp_path)
    assert len(result.summary.registered) == 16
    assert "incremental, distortion held: 1 model(s), registered images 16" in result.summary.attempts
    assert _focal(result) == pytest.approx(rig.focal, rel=0.02)
    camera = result.summary.cameras[0]
    assert camera.focal_source == "estimated" and camera.focal_prior_px is None
    assert camera.focal_px == pytest.approx(_focal(result), rel=1e-6)
    assert 0 < camera.focal_sd_px < 0.05 * camera.focal_px  # a long lens pins its distortion down poorly
    # a field this narrow (sfm.narrow_field): the distortion is held in the second pass's mapping and kept held
    # at the end unless it lowers the error by distortion_min_gain_forward; the free fit is the other one reported
    assert not result.summary.distortion_refined and camera.extra_params == (0.0,)
    assert camera.focal_other_px is not None and camera.focal_other_px != camera.focal_px
    model = pycolmap.Reconstruction(result.model)
    assert corner_shift_px(next(iter(model.cameras.values()))) <= RefinementOptions().distortion_free_px
    assert result.summary.forward_motion < 0.3  # around the object, 22.5 degrees apart: steps nearly sideways


def test_a_forward_walk_without_exif_finds_its_focal_length_and_is_warned_about(tmp_path, caplog):
    rig = forward_video()
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        result = run_sfm(_scene(rig, tmp_path / "in"), tmp_path / "out")
    assert len(result.summary.registered) == len(rig.rotations)
    assert _focal(result) == pytest.approx(rig.focal, rel=0.02)
    assert result.summary.forward_motion > 0.9
    # the principal point is tried on a walk too; the rig's is at the centre, so it is kept there
    assert not result.summary.principal_point_refined
    assert any("principal point kept at the image centre (a walk straight ahead)" in r.message
               for r in caplog.records)
    warning = next(r.message for r in caplog.records if "poorly constrained" in r.message)
    assert "a walk straight ahead" in warning and "sfm.focal_px" in warning
    camera = result.summary.cameras[0]
    assert camera.focal_other_px == pytest.approx(rig.focal, rel=0.05)
    line = next(r.message for r in caplog.records if r.message.startswith("focal length, camera 1"))
    lens = "held" if result.summary.distortion_refined else "free"
    assert f"{camera.focal_other_px:.1f} px" in line and f"with the lens distortion {lens}" in line


def test_a_user_focal_length_is_the_prior_and_is_reported(narrow, tmp_path, caplog):
    _, scene = narrow
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        result = run_sfm(scene, tmp_path, "focal_px=2900.0", "refine_focal_length=false", "focal_warn_sd=1e-9")
    camera = result.summary.cameras[0]
    assert camera.focal_source == "user" and camera.focal_prior_px == 2900.0
    assert _focal(result) == pytest.approx(2900.0)
    assert camera.focal_sd_px is None  # held: no standard deviation
    assert not any("poorly constrained" in r.message for r in caplog.records)  # warns for estimates only


def test_a_poorly_constrained_estimate_is_warned_about_with_what_to_do():
    camera = CameraInfo(camera_id=1, model="SIMPLE_RADIAL", width=640, height=480, images=16, focal_px=500.0,
                        focal_source="estimated", focal_prior_px=None, focal_sd_px=10.0, extra_params=(0.0,))
    warning = focal_warning(camera, 0.01)
    assert "500.0 px +- 10.0 px (2.0 %)" in warning and "camera 1 (640 x 480, 16 images)" in warning
    assert "sfm.focal_px" in warning and "sfm.fov_deg" in warning
    assert focal_warning(camera, 0.03) is None
    assert focal_warning(camera, 0.03, forward=0.2) is None
    assert "a walk straight ahead" in focal_warning(camera, 0.03, forward=0.5)
    assert focal_warning(dataclasses.replace(camera, focal_source="exif"), 0.01) is None  # a prior is not warned about
    assert focal_warning(dataclasses.replace(camera, focal_sd_px=None), 0.01) is None


def test_the_other_distortion_fit_is_named_where_it_lies_further_than_the_limit():
    """Where the lens distortion and the focal length trade off, the adjustment's standard deviation is
    small but the fit with the distortion free (or held) lands elsewhere: the warning says where."""
    camera = CameraInfo(camera_id=1, model="SIMPLE_RADIAL", width=540, height=360, images=20, focal_px=485.0,
                        focal_source="estimated", focal_prior_px=None, focal_sd_px=2.4, extra_params=(0.0,),
                        focal_other_px=510.0)
    assert other_fit(camera, False) == "510.0 px (+5.2 %) with the lens distortion free"
    assert other_fit(camera, True, 0.01).endswith("with the lens distortion held")
    assert other_fit(camera, False, 0.06) is None
    assert other_fit(dataclasses.replace(camera, focal_other_px=None), False) is None
    warning = focal_warning(camera, 0.01, forward=0.5)
    assert "485.0 px +- 2.4 px (0.5 %) (510.0 px (+5.2 %) with the lens distortion free)" in warning
    assert "with the lens distortion" not in focal_warning(camera, 0.06, forward=0.5)


def test_user_focal_is_in_pixels_of_the_photos_as_given_or_a_field_of_view():
    assert user_focal(800, 600, 0.5, focal_px=2000.0, fov_deg=0.0) == pytest.approx(1000.0)
    assert user_focal(800, 600, 0.5, focal_px=0.0, fov_deg=90.0) == pytest.approx(400.0)
    assert user_focal(600, 800, 1.0, focal_px=0.0, fov_deg=60.0) == pytest.approx(400.0 / 0.5773503, rel=1e-6)
    assert user_focal(800, 600, 1.0, focal_px=0.0, fov_deg=0.0) is None


def test_with_user_focal_replaces_every_prior(narrow):
    _, scene = narrow
    ingest = dataclasses.replace(scene.ingest, images=tuple(
        dataclasses.replace(im, scale=0.5, focal_px=123.0, focal_source="exif_35mm") for im in scene.ingest.images))
    given = with_user_focal(ingest, focal_px=4000.0, fov_deg=0.0)
    assert {(im.focal_px, im.focal_source) for im in given.images} == {(2000.0, "user")}
    assert [(g.focal_px, g.focal_source) for g in given.cameras] == [(2000.0, "user")]
    assert with_user_focal(ingest, focal_px=0.0, fov_deg=0.0) is ingest


@pytest.mark.parametrize("settings", [{"focal_px": -1.0}, {"fov_deg": 180.0}, {"focal_px": 500.0, "fov_deg": 60.0},
                                      {"focal_warn_sd": 0.0}])
def test_bad_focal_settings_are_refused_by_name(settings):
    with pytest.raises(ConfigError, match=next(iter(settings))):
        SfmOptions(**settings)
    with pytest.raises(ConfigError, match="distortion_min_gain"):
        RefinementOptions(distortion_min_gain=-0.1)


def test_distortion_must_gain_more_under_forward_motion():
    """Walking straight ahead, k and the focal length trade off: distortion needs a larger error drop."""
    options = RefinementOptions(distortion_min_gain=0.03, distortion_min_gain_forward=0.10)
    assert distortion_min_gain(options, FORWARD_MOTION + 0.1) == 0.10
    assert distortion_min_gain(options, FORWARD_MOTION - 0.1) == 0.03
    assert distortion_min_gain(options, None) == 0.03
    with pytest.raises(ConfigError, match="distortion_min_gain_forward"):
        RefinementOptions(distortion_min_gain_forward=-1.0)


def _rig_run(rig, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        result = run_sfm(_scene(rig, tmp_path / "in"), tmp_path / "out")
    assert len(result.summary.registered) == len(rig.rotations)
    return result, result.summary.cameras[0]


def test_a_sideways_walk_keeps_the_lens_distortion_it_sees(tmp_path, caplog):
    """Stepping across the viewing direction the views separate the distortion from the focal length:
    a real one (20 px at the corners) lowers the error by 7 % and is kept; held, the focal length comes
    out 16 % long."""
    rig = dataclasses.replace(sideways_walk(), k1=-0.08)
    result, camera = _rig_run(rig, tmp_path, caplog)
    assert result.summary.forward_motion < FORWARD_MOTION
    assert result.summary.distortion_refined
    assert camera.focal_px == pytest.approx(rig.focal, rel=0.02)
    assert camera.extra_params[0] == pytest.approx(rig.k1, rel=0.1)
    assert camera.focal_other_px > 1.1 * rig.focal  # the held fit, reported beside it


def test_a_forward_walk_limits_how_far_an_unproven_distortion_moves_the_focal_length(tmp_path, caplog):
    """Walking straight ahead a real distortion of 5 px lowers the error by 0.1 % only: held, the focal
    length came out 2.9 % short (the test refused the free fit); the free fit moves it by 2.7 %, more
    than ``distortion_max_focal_change``, so the distortion is scaled to move it by 2 % and held there."""
    rig = dataclasses.replace(forward_video(), k1=0.02)
    result, camera = _rig_run(rig, tmp_path, caplog)
    limit = RefinementOptions().distortion_max_focal_change
    assert not result.summary.distortion_refined
    assert 0 < camera.extra_params[0] < rig.k1
    assert camera.focal_px == pytest.approx(rig.focal, rel=0.02)
    assert camera.focal_other_px > camera.focal_px  # the free fit, further out
    assert any(f"scaled to move the focal length by at most {100 * limit:.1f} %" in r.message
               for r in caplog.records)


@pytest.mark.parametrize(("shift", "forward", "change", "adjusted", "kept"),
                         [(1.0, None, 0.0, [True], True), (7.0, None, 0.0, [True, False], False),
                          (1.0, FORWARD_MOTION + 0.1, 0.01, [True, False], True),
                          (7.0, FORWARD_MOTION + 0.1, 0.01, [True, False], True),
                          (1.0, FORWARD_MOTION + 0.1, 0.04, [True, False, False], False)])
def test_distortion_held_only_adjusted_when_the_free_one_is_large(monkeypatch, tmp_path, shift, forward, change,
                                                                  adjusted, kept, overshoot=1.0):
    """The free distortion is adjusted first; where it moves the corners by at most
    ``distortion_free_px`` it is kept without a test, so the held adjustment is not run, except on a walk
    straight ahead: there the free fit is kept where it moves the focal length by at most
    ``distortion_max_focal_change`` from the held fit's, and beyond it is scaled down to move it that far."""
    from photogrammetry.sfm import distortion

    model = pycolmap.Reconstruction()
    model.add_camera(pycolmap.Camera(camera_id=1, model="SIMPLE_RADIAL", width=640, height=480,
                                     params=[500.0, 320, 240, 0.0]))
    calls: list[bool] = []

    def adjust(m, db, config, *, principal_point, distortion, num_threads):  # the focal follows k linearly
        calls.append(distortion)
        camera = m.camera(1)
        k = 0.05 if distortion else camera.params[3]
        scale = overshoot if 0 < k < 0.05 else 1.0  # the scaled distortion's adjustment
        camera.params = [500.0 * (1.0 + change * scale * k / 0.05), 320, 240, k]

    def reset(m, db):
        m.camera(1).params = [*m.camera(1).params[:3], 0.0]

    monkeypatch.setattr(distortion, "refine_once", adjust)
    monkeypatch.setattr(distortion, "corner_shift_px", lambda camera: shift)
    monkeypatch.setattr(distortion, "reset_distortion", reset)
    monkeypatch.setattr(distortion, "forward_motion", lambda m: forward)
    refined = distortion.choose_distortion(model, tmp_path / "database.db", SfmOptions(), principal_point=False,
                                           num_threads=1)
    chosen, free, others = refined.model, refined.distortion, refined.other_focals
    assert calls == adjusted
    assert free is kept
    assert len(others) == (1 if len(adjusted) >= 2 else 0)  # the focal length of the fit not kept
    if overshoot != 1.0:  # the scaled fit left the range between the two: the held one is kept
        assert chosen.camera(1).params[3] == 0.0 and chosen.camera(1).mean_focal_length() == 500.0
    elif len(adjusted) == 3:  # limited: k halved, the focal length 2 % from the held one's
        limit = RefinementOptions().distortion_max_focal_change
        assert chosen.camera(1).params[3] == pytest.approx(0.05 * limit / change)
        assert chosen.camera(1).mean_focal_length() == pytest.approx(500.0 * (1 + limit))
        assert others[1] == pytest.approx(500.0 * (1 + change))


def test_a_scaled_distortion_whose_focal_length_leaves_the_two_fits_range_is_held(monkeypatch, tmp_path):
    """Where the adjustment with the scaled distortion lands outside the held and free fits' focal lengths
    (it left the valley between them), the held fit is kept."""
    test_distortion_held_only_adjusted_when_the_free_one_is_large(monkeypatch, tmp_path, 1.0, FORWARD_MOTION + 0.1,
                                                                   0.04, [True, False, False], False, overshoot=3.0)


def test_many_poorly_constrained_cameras_get_two_warnings_and_one_line_for_the_rest():
    """Photos without EXIF from many cameras (a landmark set from the web): not one warning a photo."""
    from photogrammetry.io.sfm import SfmSummary
    from photogrammetry.sfm.messages import FOCAL_WARNINGS_SHOWN, focal_warnings
    from photogrammetry.stages.sfm import SfmConfig

    cameras = tuple(CameraInfo(camera_id=i, model="SIMPLE_RADIAL", width=1024, height=683, images=1,
                               focal_px=800.0 + 100 * i, focal_source="estimated", focal_prior_px=None,
                               focal_sd_px=(0.02 if i % 2 else 0.002) * (800.0 + 100 * i), extra_params=(0.0,))
                    for i in range(1, 11))
    summary = SfmSummary(mapper="incremental", attempts=(), models=(), registered=(), unregistered=(),
                         verified_pairs=45, principal_point_refined=False, cameras=cameras)
    warnings = focal_warnings(summary, SfmConfig())
    assert FOCAL_WARNINGS_SHOWN == 2 and len(warnings) == 3  # cameras 1, 3 in full; 5, 7, 9 in one line
    assert warnings[0].startswith("the focal length of camera 1 ") and "camera 3 " in warnings[1]
    assert warnings[2].startswith("the focal lengths of 3 more camera(s)")
    assert all(f"camera {i}: " in warnings[2] for i in (5, 7, 9)) and "camera 2: " not in warnings[2]
    few = dataclasses.replace(summary, cameras=cameras[:3])
    assert len(focal_warnings(few, SfmConfig())) == 2  # cameras 1 and 3, each in full


def test_the_lens_check_is_recorded_in_sfm_json_and_shown_in_status(tmp_path):
    """#24: where the final adjustment asks the photos' straight lines (a walk straight ahead whose free
    distortion moves the focal length by more than ``distortion_max_focal_change``: forced here), ``sfm.json``
    records what they said per camera and the stage's ``focal`` count (``photogrammetry status``) shows it.
    The synthetic scene has keypoints but no photos: the lines are no evidence, and say why."""
    from photogrammetry.engine.settings import resolve_config
    from photogrammetry.engine.stage import StageContext
    from photogrammetry.io.sfm import load_sfm
    from photogrammetry.stages import sfm

    scene = _scene(forward_video(), tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    settings = ["refinement.distortion_max_focal_change=1e-9", "refinement.distortion_min_gain_forward=10.0"]
    config = resolve_config([sfm.STAGE], preset=None, overrides=[f"sfm.{s}" for s in settings])["sfm"]
    counts = sfm.run(config, StageContext(name="sfm", out=out, photos=out, workers=2, progress=False),
                     ingest=scene.ingest, features=scene.features, matches=scene.matches)
    camera = load_sfm(out).summary.cameras[0]
    check = camera.lens_check
    assert check is not None and check.corner_shift is None and check.corner_shift_sd is None
    assert (check.lines, check.photos) == (0, 0) and "photos" in check.reason
    assert check.sides_with == "neither" and not check.decided
    assert check.radius_px > 0 and check.held_corner_shift == pytest.approx(0.0, abs=1e-9)
    assert f"straight lines no evidence ({check.reason})" in counts["focal"] and "not decisive" in counts["focal"]


def test_a_lens_check_survives_sfm_json_and_older_files_read_without_one(tmp_path):
    from photogrammetry.io.sfm import LensCheck, SfmSummary, load_sfm, save_sfm_summary
    from photogrammetry.sfm.messages import describe_focal

    check = LensCheck(corner_shift=0.008, corner_shift_sd=0.002, radius_px=324.5, lines=327, photos=20, reason="",
                      free_corner_shift=0.0081, held_corner_shift=0.0, sides_with="neither", decided=False)
    camera = CameraInfo(camera_id=1, model="SIMPLE_RADIAL", width=540, height=360, images=20, focal_px=494.1,
                        focal_source="estimated", focal_prior_px=None, focal_sd_px=1.0, extra_params=(0.01,),
                        focal_other_px=497.6, lens_check=check)
    summary = SfmSummary(mapper="incremental", attempts=(), models=(), registered=(), unregistered=(),
                         verified_pairs=45, principal_point_refined=False, cameras=(camera,))
    save_sfm_summary(tmp_path, summary)
    assert load_sfm(tmp_path).summary.cameras[0] == camera
    line = describe_focal(camera, False)
    assert "straight lines +0.8 +- 0.2 % at the corners (327 lines in 20 photos" in line
    assert "they do not tell the fits apart, not decisive" in line and "497.6 px (+0.7 %)" in line
    raw = json.loads((tmp_path / "sfm.json").read_text())
    del raw["cameras"][0]["lens_check"]  # as sfm stages before 18 wrote it
    (tmp_path / "sfm.json").write_text(json.dumps(raw))
    older = load_sfm(tmp_path).summary.cameras[0]
    assert older.lens_check is None and older == dataclasses.replace(camera, lens_check=None)
    assert "straight lines" not in describe_focal(older, False)
