"""The final adjustment on SIFT points: a synthetic model whose "learned" observations are noisy and biased."""

from __future__ import annotations

import numpy as np
import pycolmap
import pytest

from photogrammetry.sfm.precision import is_sift, sift_adjustment, sift_model, sift_point_counts
from photogrammetry.sfm.options import SfmOptions
from photogrammetry.sfm.refine_options import RefinementOptions

WIDTH, HEIGHT, FOCAL = 800, 600, 700.0


def _rotation_errors(model: pycolmap.Reconstruction, truth: pycolmap.Reconstruction) -> np.ndarray:
    """Relative rotation errors (degrees) of every pair of images."""
    ids = sorted(truth.reg_image_ids())
    errors = []
    for n, a in enumerate(ids):
        for b in ids[n + 1:]:
            est = model.image(a).cam_from_world().rotation.matrix() @ model.image(b).cam_from_world().rotation.matrix().T
            true = truth.image(a).cam_from_world().rotation.matrix() @ truth.image(b).cam_from_world().rotation.matrix().T
            cos = (np.trace(est @ true.T) - 1) / 2
            errors.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.array(errors)


def _adjust(model: pycolmap.Reconstruction) -> None:
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    pycolmap.bundle_adjustment(model, options)


@pytest.fixture(scope="module")
def scene():
    """(truth, model adjusted on all observations, first SIFT index per image): in every image the
    first half of the keypoints is "learned" (1 px noise and a 1 px rotational bias), the rest "SIFT"
    (0.1 px noise)."""
    pycolmap.set_random_seed(3)
    options = pycolmap.SyntheticDatasetOptions(
        num_rigs=1, num_cameras_per_rig=1, num_frames_per_rig=10, num_points3D=400, camera_width=WIDTH,
        camera_height=HEIGHT, camera_params=[FOCAL, WIDTH / 2, HEIGHT / 2, 0.0], num_points2D_without_point3D=0)
    with pycolmap.Database.open(":memory:") as db:
        truth = pycolmap.synthesize_dataset(options, db)
    model = pycolmap.Reconstruction(truth)
    rng = np.random.default_rng(0)
    first_sift = {}
    for image_id in model.reg_image_ids():
        image = model.image(image_id)
        first_sift[image_id] = len(image.points2D) // 2
        for idx, point in enumerate(image.points2D):
            x, y = point.xy
            if idx < first_sift[image_id]:
                bias = np.array([(y - HEIGHT / 2) / HEIGHT, -(x - WIDTH / 2) / WIDTH])
                point.xy = point.xy + bias + rng.normal(0, 1.0, 2)
            else:
                point.xy = point.xy + rng.normal(0, 0.1, 2)
    _adjust(model)
    return truth, model, first_sift


def test_sift_observations_are_told_from_learned_ones():
    assert is_sift(5, 1, {1: 5}) and not is_sift(4, 1, {1: 5})
    assert not is_sift(100, 2, {1: 5})  # an image without SIFT keypoints


def test_learned_observations_stay_only_for_weak_images(scene):
    _, model, first_sift = scene
    weak = {min(model.reg_image_ids())}
    reduced = sift_model(model, first_sift, weak)
    for point in reduced.points3D.values():  # a point keeps learned observations only for a weak image
        learned = {e.image_id for e in point.track.elements if not is_sift(e.point2D_idx, e.image_id, first_sift)}
        assert not learned or learned & weak
    learned_in_weak = sum(not is_sift(e.point2D_idx, e.image_id, first_sift)
                          for p in reduced.points3D.values() for e in p.track.elements)
    assert learned_in_weak > 0
    assert min(sift_point_counts(model, first_sift).values()) > 50


def test_adjustment_on_sift_points_is_more_accurate(scene):
    truth, model, first_sift = scene
    before = np.median(_rotation_errors(model, truth))
    adjusted, report = sift_adjustment(model, first_sift, SfmOptions(), distortion=True, num_threads=2)
    after = np.median(_rotation_errors(adjusted, truth))
    assert report is not None and report.weak_images == 0
    assert after < 0.5 * before, (before, after)
    assert adjusted.num_points3D() >= 0.95 * model.num_points3D()  # learned points re-triangulated, not dropped
    assert model.compute_mean_reprojection_error() == pytest.approx(
        pycolmap.Reconstruction(model).compute_mean_reprojection_error())  # the input is left alone


def test_nothing_changes_without_enough_sift_points(scene):
    _, model, first_sift = scene
    config = SfmOptions(refinement=RefinementOptions(sift_min_points=10_000))
    same, report = sift_adjustment(model, first_sift, config, distortion=True, num_threads=2)
    assert same is model and report is None
