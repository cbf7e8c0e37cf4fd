"""Images a model cannot stand behind are taken out of it: an implausible camera, no 3D point."""

from __future__ import annotations

import numpy as np
import pycolmap
import pytest

from photogrammetry.sfm import intrinsics, plausible
from photogrammetry.sfm.focal_pass import estimated_priors


def _model(images: int = 6) -> pycolmap.Reconstruction:
    """A synthetic model whose every image has its own camera (photos without EXIF, each its own size)."""
    options = pycolmap.SyntheticDatasetOptions(
        num_rigs=images, num_cameras_per_rig=1, num_frames_per_rig=1, num_points3D=150, camera_width=640,
        camera_height=480, camera_params=[600.0, 320.0, 240.0, 0.0], num_points2D_without_point3D=0)
    with pycolmap.Database.open(":memory:") as db:
        return pycolmap.synthesize_dataset(options, db)


def _set_params(model: pycolmap.Reconstruction, image_id: int, params: list[float]) -> None:
    camera = model.camera(model.image(image_id).camera_id)
    camera.params = params


def _strip_points(model: pycolmap.Reconstruction, image_id: int) -> None:
    image = model.image(image_id)
    for index, point in enumerate(image.points2D):
        if point.has_point3D():
            if model.point3D(point.point3D_id).track.length() <= 2:
                model.delete_point3D(point.point3D_id)
            else:
                model.delete_observation(image_id, index)


@pytest.mark.parametrize(("params", "why"), [
    ([-159744.2, 320.0, 240.0, 0.0], "focal length -159744.2 px"),
    ([2564876.6, 320.0, 240.0, 0.0], "focal length 2564876.6 px"),
    ([40.0, 320.0, 240.0, 0.0], "focal length 40.0 px"),
    ([float("nan"), 320.0, 240.0, 0.0], "not finite"),
    ([600.0, 320.0, 240.0, 3.0], "lens distortion moving the corners"),
])
def test_implausible_cameras_are_named(params, why):
    camera = pycolmap.Camera.create_from_model_name(1, "SIMPLE_RADIAL", 600.0, 640, 480)
    camera.params = params
    assert why in plausible.implausible(camera)


@pytest.mark.parametrize("params", [
    [600.0, 320.0, 240.0, 0.0],
    [3200.0, 320.0, 240.0, 0.0],  # a long lens: 3,200 px on 640 px photos
    [3200.0, 320.0, 240.0, 2.0],  # its distortion term beyond COLMAP's 1, moving the corners by about 6 px
    [600.0, 320.0, 240.0, -0.2],  # a wide lens's barrel distortion
])
def test_plausible_cameras_pass(params):
    camera = pycolmap.Camera.create_from_model_name(1, "SIMPLE_RADIAL", 600.0, 640, 480)
    camera.params = params
    assert plausible.implausible(camera) is None


def test_images_with_implausible_cameras_or_no_points_leave_the_model():
    model = _model()
    ids = sorted(model.reg_image_ids())
    _set_params(model, ids[1], [-159744.2, 320.0, 240.0, 0.0])
    _strip_points(model, ids[3])
    assert model.image(ids[3]).num_points3D == 0
    kept, dropped = plausible.without_implausible(model)
    names = {model.image(i).name for i in ids}
    assert [d.name for d in dropped] == [model.image(ids[1]).name, model.image(ids[3]).name]
    assert "focal length -159744.2 px" in dropped[0].reason and "no 3D point" in dropped[1].reason
    assert {kept.image(i).name for i in kept.reg_image_ids()} == names - {d.name for d in dropped}
    assert kept.num_images() == kept.num_reg_images() == len(ids) - 2
    assert all(kept.point3D(p).track.length() >= 2 for p in kept.point3D_ids())
    for image_id in kept.reg_image_ids():  # the kept poses are the model's
        np.testing.assert_allclose(kept.image(image_id).cam_from_world().matrix(),
                                   model.image(image_id).cam_from_world().matrix())
    # pycolmap's covariance estimation runs on it (it fails on a frame left without a pose)
    assert intrinsics.focal_deviations(kept, focal=True, principal_point=False, distortion=False, num_threads=1)
    assert "2 image(s) taken out of the model" in plausible.describe(dropped)


def test_a_plausible_model_is_returned_as_it_is():
    model = _model()
    kept, dropped = plausible.without_implausible(model)
    assert kept is model and dropped == []


def test_implausible_focal_lengths_are_no_prior(tmp_path):
    model = _model(4)
    ids = sorted(model.reg_image_ids())
    _set_params(model, ids[0], [30611.8, 320.0, 240.0, 0.0])
    _set_params(model, ids[2], [612.0, 320.0, 240.0, 0.0])
    database = tmp_path / "database.db"
    with pycolmap.Database.open(database) as db:
        for camera in model.cameras.values():
            start = pycolmap.Camera.create_from_model_name(camera.camera_id, "SIMPLE_RADIAL", 768.0, 640, 480)
            db.write_camera(start, use_camera_id=True)
    priors = estimated_priors(database, model)
    first, third = model.image(ids[0]).camera_id, model.image(ids[2]).camera_id
    assert first not in priors and priors[third] == pytest.approx(612.0)
    assert len(priors) == len(model.cameras) - 1


def test_only_models_with_photos_outside_the_chosen_one_are_reported_apart():
    from photogrammetry.stages.sfm import _apart

    full = _model(5)
    names = sorted(full.image(i).name for i in full.reg_image_ids())
    smaller, dropped = plausible.without_implausible(_without(full, names[3:]))
    assert smaller.num_reg_images() == 3 and len(dropped) == 2
    assert _apart(full, [smaller]) == []  # everything in it is in the chosen model too
    assert _apart(smaller, [full]) == [full]


def _without(model: pycolmap.Reconstruction, names: list[str]) -> pycolmap.Reconstruction:
    """A copy of ``model`` whose images ``names`` observe no 3D point."""
    work = pycolmap.Reconstruction(model)
    for image_id in sorted(work.reg_image_ids()):
        if work.image(image_id).name in names:
            _strip_points(work, image_id)
    return work


def test_a_mapped_model_with_fewer_than_two_plausible_images_is_left_out():
    from photogrammetry.sfm.mapping import plausible_models

    good, bad = _model(4), _model(3)
    for image_id in sorted(bad.reg_image_ids())[:2]:
        _set_params(bad, image_id, [-1000.0, 320.0, 240.0, 0.0])
    kept = plausible_models([bad, good], "incremental")
    assert kept == [good]
