"""A piece joined across a weak stretch of a walk: tracks across the shared image matched again (sfm.bridge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.io.features import Features, write_features
from photogrammetry.sfm.bridge import pairs_across
from photogrammetry.sfm.options import MappingOptions, SfmOptions
from photogrammetry.sfm.pieces import join_pieces, points_across, similarity
from tests.sfm.synthetic import ring_database

TRACKS = SfmOptions(mapping=MappingOptions(join_tracks=True))

SHARED = 6
"""The image both pieces registered: the only one that sees both sides of the weak stretch."""


def _keep(db: pycolmap.Database, a: int, b: int, keep) -> None:
    """Keep the matches and inliers of pair ``(a, b)`` for which ``keep(row)`` holds; drop the pair where none."""
    raw = np.asarray(db.read_matches(a, b)).reshape(-1, 2)
    geometry = db.read_two_view_geometry(a, b)
    inliers = np.asarray(geometry.inlier_matches).reshape(-1, 2)
    db.delete_matches(a, b)
    db.delete_two_view_geometry(a, b)
    raw, inliers = raw[[keep(r) for r in raw]], inliers[[keep(r) for r in inliers]]
    if len(raw):
        db.write_matches(a, b, np.ascontiguousarray(raw, np.uint32))
        geometry.inlier_matches = np.ascontiguousarray(inliers, np.uint32)
        db.write_two_view_geometry(a, b, geometry)


def _weak_walk(tmp_path: Path, *, distinct: bool = True, scale_error: float = 1.3, noise_px: float = 0.0):
    """A synthetic walk of 10 views (the truth), its database and features, and two pieces sharing image 6.

    Image 6's points are split: those before it are matched only to images 1-5, those after only to
    7-10, two to both; no pair across image 6 has a match (a fast turn that SIFT does not carry). The
    first piece holds images 1-6, the second 6-10, moved by a similarity, its two shared points moved
    along image 6's rays by ``scale_error`` (so the shared points' scale is that far off). Every point
    has one descriptor in every image (``distinct``; else each keypoint a random one); the keypoints
    move by ``noise_px`` (standard deviation) from the true projections."""
    database = tmp_path / "database.db"
    truth = ring_database(database, frames=10, points=200, seed=2, unmatched=5)
    rng = np.random.default_rng(0)
    of_point = {int(p): rng.normal(size=32) for p in truth.points3D}
    seen = {j: int(p.point3D_id) for j, p in enumerate(truth.image(SHARED).points2D) if p.has_point3D()}
    ids = sorted(set(seen.values()))
    common = set(ids[:2])
    before = common | set(ids[2::2])
    after = common | set(ids[3::2])
    features = []
    with pycolmap.Database.open(database) as db:
        for image_id in range(1, 11):
            stored = np.asarray(db.read_keypoints(image_id))
            stored[:, :2] += rng.normal(scale=noise_px, size=(len(stored), 2))
            db.update_keypoints(image_id, np.ascontiguousarray(stored, np.float32))
            keypoints = stored[:, :2].astype(np.float32)
            points2D = truth.image(image_id).points2D
            descriptors = rng.normal(size=(len(keypoints), 32)).astype(np.float32)
            for j, p in enumerate(points2D):
                if distinct and p.has_point3D():
                    descriptors[j] = of_point[int(p.point3D_id)] + 0.05 * rng.normal(size=32)
            features.append((truth.image(image_id).name, Features(keypoints, np.ones(len(keypoints), np.float32),
                                                                  descriptors, (640, 480))))
        for a in range(1, 11):
            for b in range(a + 1, 11):
                if a < SHARED < b:
                    _keep(db, a, b, lambda row: False)
                elif b == SHARED:
                    _keep(db, a, b, lambda row: seen.get(int(row[1])) in before)
                elif a == SHARED:
                    _keep(db, a, b, lambda row: seen.get(int(row[0])) in after)
    write_features(tmp_path / "features.h5", features, "sift")
    first, second = pycolmap.Reconstruction(truth), pycolmap.Reconstruction(truth)
    for model, gone, other in ((first, range(7, 11), after - common), (second, range(1, 6), before - common)):
        for image_id in gone:
            model.deregister_frame(model.image(image_id).frame_id)
        for j, point_id in seen.items():
            if point_id in other:
                model.delete_point3D(point_id)
    center = second.image(SHARED).projection_center()
    for point_id in common:
        second.point3D(point_id).xyz = center + scale_error * (second.point3D(point_id).xyz - center)
    second.transform(pycolmap.Sim3d(2.5, pycolmap.Rotation3d(np.array([0.1, 0.2, 0.3])), np.array([1.0, -2.0, 0.5])))
    return truth, database, tmp_path / "features.h5", first, second


def _centres_error(model: pycolmap.Reconstruction, truth: pycolmap.Reconstruction) -> float:
    """The largest camera-centre distance to the truth over the ring's size."""
    size = np.ptp([truth.image(i).projection_center() for i in truth.reg_image_ids()], axis=0).max()
    return max(np.linalg.norm(model.image(i).projection_center() - truth.image(i).projection_center())
               for i in model.reg_image_ids()) / size


def test_the_pairs_around_a_shared_image_are_it_with_its_neighbours_and_those_across(tmp_path):
    _, database, _, first, second = _weak_walk(tmp_path)
    pairs = pairs_across(database, {SHARED}, set(second.reg_image_ids()), set(first.reg_image_ids()), 15)
    assert {p for p in pairs if SHARED in p} == {tuple(sorted((SHARED, i))) for i in range(1, 11) if i != SHARED}
    assert {p for p in pairs if SHARED not in p} == {(a, b) for a in range(1, 6) for b in range(7, 11)}


def test_a_piece_on_two_shared_points_is_joined_at_the_true_scale_through_its_tracks(tmp_path):
    truth, database, features, first, second = _weak_walk(tmp_path)
    join = similarity(second, first, 1)
    assert join is not None and join.shared_points == 2
    assert abs(join.sim.scale * 2.5 - 1.0) > 0.2  # the shared points alone give a scale 30 % off
    assert [m.num_reg_images() for m in join_pieces([first, second], database, TRACKS, num_threads=1)] \
        == [6, 5]  # without the features: left apart (2 points, 3 needed)
    models = join_pieces([first, second], database, TRACKS, num_threads=1, features=features)
    assert [m.num_reg_images() for m in models] == [10]
    assert points_across(models[0], {7, 8, 9, 10}, {1, 2, 3, 4, 5}) > 50
    assert _centres_error(models[0], truth) < 1e-3


def test_a_piece_whose_tracks_do_not_match_again_is_left_apart(tmp_path):
    _, database, features, first, second = _weak_walk(tmp_path, distinct=False)
    models = join_pieces([first, second], database, TRACKS, num_threads=1, features=features)
    assert [m.num_reg_images() for m in models] == [6, 5]
    off = SfmOptions()  # join_tracks off
    (tmp_path / "off").mkdir()
    _, database, features, first, second = _weak_walk(tmp_path / "off")
    assert [m.num_reg_images() for m in join_pieces([first, second], database, off, num_threads=1,
                                                    features=features)] == [6, 5]


def test_a_piece_whose_scale_the_tracks_give_too_loosely_is_left_apart(tmp_path):
    truth, database, features, first, second = _weak_walk(tmp_path, noise_px=1.0)
    loose = SfmOptions(mapping=MappingOptions(join_tracks=True, join_max_scale_error=1e-4))
    assert [m.num_reg_images() for m in join_pieces([first, second], database, loose, num_threads=1,
                                                    features=features)] == [6, 5]
    models = join_pieces([first, second], database, TRACKS, num_threads=1, features=features)
    assert [m.num_reg_images() for m in models] == [10]
    assert _centres_error(models[0], truth) < 0.01
