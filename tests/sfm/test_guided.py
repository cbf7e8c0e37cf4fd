"""Guided matching of weakly tied images along the first pass's epipolar lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap
import pytest
import torch

from photogrammetry.errors import ConfigError
from photogrammetry.io.features import Features, write_features
from photogrammetry.matching.nearest import mutual_nn_ratio
from photogrammetry.sfm.guided import add_guided_matches, epipolar_matches, weak_images
from photogrammetry.sfm.options import GuidedOptions
from tests.sfm.synthetic import ring_database


def _two_views(seed: int = 0, count: int = 120):
    """Rays of ``count`` points seen by two cameras 0.3 apart (world = camera 0), unit descriptors
    per point, and the essential matrix."""
    rng = np.random.default_rng(seed)
    points = np.column_stack([rng.uniform(-2, 2, count), rng.uniform(-1.5, 1.5, count), rng.uniform(4, 8, count)])
    angle = np.radians(5.0)
    R = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    t = np.array([-0.3, 0.02, 0.05])
    in1 = points @ R.T + t
    rays0, rays1 = points / points[:, 2:], in1 / in1[:, 2:]
    skew = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    desc = rng.normal(size=(count, 128))
    return rays0, rays1, desc / np.linalg.norm(desc, axis=1, keepdims=True), skew @ R, rng


def _noisy(desc: np.ndarray, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    out = desc + rng.normal(scale=sigma, size=desc.shape)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_matches_along_the_epipolar_line_where_the_image_repeats_each_descriptor_elsewhere():
    rays0, rays1, desc, E, rng = _two_views()
    count = len(rays0)
    # image 1 holds each point twice: at its projection, and a look-alike at a random place off the line
    decoys = np.column_stack([rng.uniform(-0.5, 0.5, count), rng.uniform(-0.4, 0.4, count), np.ones(count)])
    rays1_all = np.concatenate([rays1, decoys])
    desc0, desc1 = _noisy(desc, rng), np.concatenate([_noisy(desc, rng), _noisy(desc, rng)])
    plain, _ = mutual_nn_ratio(torch.from_numpy(desc0), torch.from_numpy(desc1), 0.8)
    assert len(plain) < 0.1 * count  # the ratio test over the whole image rejects them
    band = 2.0 / 500  # 2 px at a focal length of 500 px
    found = epipolar_matches(E, rays0, rays1_all, desc0, desc1, band=band, ratio=0.8, max_distance=0.7)
    lines = rays0 @ E.T
    decoy_near = np.abs(np.sum(lines * decoys, axis=1)) / np.linalg.norm(lines[:, :2], axis=1) < band
    assert (found[:, 1] == found[:, 0]).all()
    assert len(found) >= count - int(decoy_near.sum()) - 2


def test_a_look_alike_on_the_line_fails_the_ratio_test():
    rays0, rays1, desc, E, rng = _two_views(seed=1)
    count = len(rays0)
    beside = rays1 + np.array([0.0005, 0.0, 0.0])  # 0.25 px away along x: within the band
    desc0 = _noisy(desc, rng)
    desc1 = np.concatenate([_noisy(desc, rng), _noisy(desc, rng)])
    found = epipolar_matches(E, rays0, np.concatenate([rays1, beside]), desc0, desc1, band=2.0 / 500, ratio=0.8,
                             max_distance=0.7)
    assert len(found) < 0.1 * count


def test_descriptors_farther_than_max_distance_are_not_matched():
    rays0, rays1, desc, E, rng = _two_views(seed=2)
    far = rng.normal(size=desc.shape)
    far /= np.linalg.norm(far, axis=1, keepdims=True)
    found = epipolar_matches(E, rays0, rays1, desc.astype(np.float32), far.astype(np.float32), band=2.0 / 500,
                             ratio=0.8, max_distance=0.7)
    assert len(found) == 0


def _features(truth: pycolmap.Reconstruction, path: Path, database: Path) -> None:
    """``features.h5`` for the database's images: its keypoints, each 3D point's descriptor on its
    observations, random ones elsewhere."""
    rng = np.random.default_rng(0)
    per_point = {int(p): v for p, v in zip(truth.points3D, rng.normal(size=(truth.num_points3D(), 128)), strict=True)}
    items = []
    with pycolmap.Database.open(database) as db:
        for image in db.read_all_images():
            keypoints = db.read_keypoints(image.image_id)[:, :2].astype(np.float32)
            desc = rng.normal(size=(len(keypoints), 128))
            for k, point in enumerate(truth.image(image.image_id).points2D):
                if point.has_point3D():
                    desc[k] = per_point[int(point.point3D_id)] + rng.normal(scale=0.05, size=128)
            desc /= np.linalg.norm(desc, axis=1, keepdims=True)
            items.append((image.name, Features(keypoints, np.ones(len(keypoints), np.float32),
                                                desc.astype(np.float16), (640, 480))))
    write_features(path, items, "synthetic")


def test_a_weak_images_pair_gets_its_matches_back_along_the_lines(tmp_path):
    database = tmp_path / "database.db"
    truth = ring_database(database, frames=4, points=150, seed=3, unmatched=10)
    _features(truth, tmp_path / "features.h5", database)
    with pycolmap.Database.open(database) as db:
        true_matches = np.asarray(db.read_two_view_geometry(1, 2).inlier_matches)
        db.delete_matches(1, 2)
        db.write_matches(1, 2, np.ascontiguousarray(true_matches[:10], dtype=np.uint32))  # the few found at first
    assert weak_images(truth, 1) == set()
    assert weak_images(truth, 10_000) == {1, 2, 3, 4}
    pairs = add_guided_matches(database, tmp_path / "features.h5", [truth], GuidedOptions(min_points=10_000),
                                      min_inliers=15)
    assert len(pairs) == 6
    with pycolmap.Database.open(database) as db:
        now = {tuple(m) for m in np.asarray(db.read_matches(1, 2))}
    wanted = {tuple(m) for m in true_matches}
    assert len(now & wanted) >= 0.9 * len(wanted)
    assert len(now - wanted) <= 0.02 * len(wanted)


def test_guided_options_are_checked():
    with pytest.raises(ConfigError, match="guided"):
        GuidedOptions(min_points=-1)
    with pytest.raises(ConfigError, match="guided"):
        GuidedOptions(ratio=1.5)


def test_pairs_that_only_a_smaller_piece_registered_are_matched_along_its_lines(tmp_path):
    database = tmp_path / "database.db"
    truth = ring_database(database, frames=4, points=150, seed=3, unmatched=10)
    _features(truth, tmp_path / "features.h5", database)
    first, second = pycolmap.Reconstruction(truth), pycolmap.Reconstruction(truth)
    for image_id in (3, 4):
        first.deregister_frame(first.image(image_id).frame_id)
    for image_id in (1, 2):
        second.deregister_frame(second.image(image_id).frame_id)
    second.transform(pycolmap.Sim3d(0.5, pycolmap.Rotation3d(np.array([0.2, 0.0, 0.1])), np.array([1.0, 0.0, 0.0])))
    with pycolmap.Database.open(database) as db:
        true_matches = np.asarray(db.read_two_view_geometry(3, 4).inlier_matches)
        db.delete_matches(3, 4)
        db.write_matches(3, 4, np.ascontiguousarray(true_matches[:10], dtype=np.uint32))
    pairs = add_guided_matches(database, tmp_path / "features.h5", [first, second], GuidedOptions(min_points=10_000),
                               min_inliers=15)
    assert pairs == {(1, 2), (3, 4)}  # the pairs across the pieces have no model that holds both
    with pycolmap.Database.open(database) as db:
        now = {tuple(m) for m in np.asarray(db.read_matches(3, 4))}
    assert len(now & {tuple(m) for m in true_matches}) >= 0.9 * len(true_matches)
