"""Reprojection errors and track lengths of a synthetic model (pycolmap's), exact then disturbed."""

from __future__ import annotations

import numpy as np
import pycolmap

from photogrammetry.report.sparse import reprojection_errors, track_lengths


def _model(frames: int = 8, points: int = 200) -> pycolmap.Reconstruction:
    options = pycolmap.SyntheticDatasetOptions()
    options.num_rigs, options.num_cameras_per_rig = 1, 1
    options.num_frames_per_rig, options.num_points3D = frames, points
    return pycolmap.synthesize_dataset(options)


def test_an_exact_model_has_no_error_and_a_moved_point_has_some() -> None:
    rec = _model()
    errors, used = reprojection_errors(rec, 10**9)
    assert used == rec.num_reg_images() and len(errors) == rec.compute_num_observations()
    assert errors.max() < 1e-6
    point = next(iter(rec.points3D.values()))
    point.xyz = point.xyz + 0.05 * np.linalg.norm(point.xyz)
    moved, _ = reprojection_errors(rec, 10**9)
    assert (moved > 0.1).sum() == point.track.length()


def test_the_limits_take_whole_images_and_a_subset_of_points() -> None:
    rec = _model(frames=10, points=300)
    errors, used = reprojection_errors(rec, 1)
    assert used == 1 and len(errors) == rec.num_points3D()  # every point is seen in every synthetic image
    assert len(track_lengths(rec, 50)) == 50
    assert (track_lengths(rec, 10**9) == 10).all()
