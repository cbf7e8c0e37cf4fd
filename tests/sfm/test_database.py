"""The COLMAP database built from our features and matches."""

from __future__ import annotations

import sqlite3

import numpy as np
import pycolmap
import pytest

from photogrammetry.errors import InputError
from photogrammetry.io.features import Matches, write_matches
from photogrammetry.sfm.database import (CAMERA_MODELS, DEFAULT_FOCAL_FACTOR, assign_cameras, camera_params,
                                         collect_matches, make_camera, write_database)


@pytest.mark.parametrize("model", CAMERA_MODELS)
def test_camera_params_centre_the_principal_point_and_start_undistorted(model):
    camera = make_camera(3, model, 640, 480, None)
    assert camera.camera_id == 3 and camera.model.name == model
    assert camera.principal_point_x == 320 and camera.principal_point_y == 240
    assert camera.mean_focal_length() == pytest.approx(DEFAULT_FOCAL_FACTOR * 640)
    assert not camera.has_prior_focal_length
    extra = camera.params[list(camera.extra_params_idxs())]
    assert np.all(extra == 0)


def test_focal_prior_is_used_and_marked():
    camera = make_camera(1, "SIMPLE_RADIAL", 1000, 800, 900.0)
    assert camera.focal_length == 900.0 and camera.has_prior_focal_length


def test_unknown_camera_model_is_rejected():
    with pytest.raises(ValueError, match="FISHEYE"):
        camera_params("FISHEYE", 10, 10, None)


def test_cameras_shared_per_group_or_one_per_image(synthetic_scene):
    shared, ids = assign_cameras(synthetic_scene.ingest, "SIMPLE_RADIAL", shared=True)
    assert len(shared) == 1 and set(ids.values()) == {1}
    single, ids = assign_cameras(synthetic_scene.ingest, "PINHOLE", shared=False)
    assert len(single) == len(synthetic_scene.ingest.images) == len(set(ids.values()))


def test_pairs_stored_in_both_orders_are_merged(tmp_path):
    path = tmp_path / "matches.h5"
    m = np.array([[0, 1], [2, 3]], np.int32)
    write_matches(path, [("a", "b", Matches(m, np.ones(2, np.float32))),
                         ("b", "a", Matches(np.array([[1, 0], [5, 4]], np.int32), np.ones(2, np.float32)))],
                  {"a": 6, "b": 6})
    merged = collect_matches(path, {"a": 1, "b": 2})
    assert list(merged) == [(1, 2)]
    assert merged[(1, 2)].tolist() == [[0, 1], [2, 3], [4, 5]]
    swapped = collect_matches(path, {"a": 2, "b": 1})
    assert swapped[(1, 2)].tolist() == [[1, 0], [3, 2], [5, 4]]


def test_database_round_trip(synthetic_scene, tmp_path):
    db_path = tmp_path / "database.db"
    stats = write_database(db_path, synthetic_scene.ingest, synthetic_scene.features.path,
                           synthetic_scene.matches.path, camera_model="SIMPLE_RADIAL", shared_intrinsics=True)
    with pycolmap.Database.open(db_path) as db:
        assert db.num_images() == stats.images == 8
        assert db.num_cameras() == stats.cameras == 1
        assert db.num_keypoints() == stats.keypoints
        assert db.num_matched_image_pairs() == stats.pairs == len(synthetic_scene.matches.pairs)
        names = sorted(im.name for im in db.read_all_images())
    assert names == [im.name for im in synthetic_scene.ingest.images]


def test_matches_indexing_missing_keypoints_are_an_input_error(synthetic_scene, tmp_path):
    bad = tmp_path / "matches.h5"
    a, b = synthetic_scene.matches.pairs[0]
    write_matches(bad, [(a, b, Matches(np.array([[0, 10**6]], np.int32), np.ones(1, np.float32)))], {a: 1})
    with pytest.raises(InputError, match="do not belong together"):
        write_database(tmp_path / "db.db", synthetic_scene.ingest, synthetic_scene.features.path, bad,
                       camera_model="SIMPLE_RADIAL", shared_intrinsics=True)


def test_sift_matches_are_appended_with_offset_keypoint_indices(tmp_path):
    from photogrammetry.sfm.sift import _merge

    def database(path, keypoints, matches):
        db = pycolmap.Database.open(path)
        db.write_camera(make_camera(1, "SIMPLE_RADIAL", 100, 100, None), use_camera_id=True)
        for i, (name, n) in enumerate(keypoints.items(), 1):
            db.write_image(pycolmap.Image(name=name, camera_id=1, image_id=i), use_image_id=True)
            db.write_keypoints(i, np.full((n, 2), float(i), np.float32))
        for (a, b), m in matches.items():
            db.write_matches(a, b, np.asarray(m, np.uint32))
        return db

    ours = database(tmp_path / "ours.db", {"a": 3, "b": 2}, {(1, 2): [[0, 1]]})
    sift = database(tmp_path / "sift.db", {"b": 4, "a": 5}, {(1, 2): [[3, 4], [0, 0]]})  # ids swapped: b=1, a=2
    assert _merge(ours, sift, {"a": 1, "b": 2}) == (2, {1: 3, 2: 2})  # added, first SIFT keypoint per image
    assert len(ours.read_keypoints(1)) == 3 + 5 and len(ours.read_keypoints(2)) == 2 + 4
    assert ours.read_matches(1, 2).tolist() == [[0, 1], [4 + 3, 3 + 2], [0 + 3, 0 + 2]]
    ours.close()
    sift.close()


def test_compact_gives_the_same_bytes_for_the_same_rows_written_in_another_order(tmp_path):
    from photogrammetry.sfm.database import compact

    rng = np.random.default_rng(0)
    pairs = [(a, b) for a in range(1, 7) for b in range(a + 1, 7)]
    matches = {pair: rng.integers(0, 500, size=(int(rng.integers(50, 400)), 2), dtype=np.uint32) for pair in pairs}
    files = []
    for rewritten, name in (([], "a.db"), (pairs[::2], "b.db")):
        path = tmp_path / name
        with pycolmap.Database.open(path) as db:
            db.write_camera(make_camera(1, "PINHOLE", 640, 480, None), use_camera_id=True)
            for image_id in range(1, 7):
                db.write_image(pycolmap.Image(name=f"{image_id}.jpg", camera_id=1, image_id=image_id),
                               use_image_id=True)
            for a, b in pairs:
                db.write_matches(a, b, matches[(a, b)])
            for a, b in rewritten:  # rows written again, as verification does from its threads
                db.delete_matches(a, b)
            for a, b in rewritten[::-1]:
                db.write_matches(a, b, matches[(a, b)])
        files.append(path)
    assert files[0].read_bytes() != files[1].read_bytes()
    dumps = [list(sqlite3.connect(path).iterdump()) for path in files]
    for path in files:
        compact(path)
    assert files[0].read_bytes() == files[1].read_bytes()
    assert [list(sqlite3.connect(path).iterdump()) for path in files] == dumps  # nothing lost
    with pycolmap.Database.open(files[1]) as db:
        assert db.num_matched_image_pairs() == len(pairs) and db.num_images() == 6
