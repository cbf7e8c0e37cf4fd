"""What sfm says when it cannot use the photos: no match at all, matches that fit no scene, several models."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pycolmap

from photogrammetry.sfm import verification
from photogrammetry.sfm.database import make_camera
from photogrammetry.sfm.diagnosis import (STILL_SHARE, no_verified_pairs, several_models, static_background,
                                          still_share, tracks_into)
from photogrammetry.sfm.options import SfmOptions

NAMES = {1: "a.jpg", 2: "b.jpg", 3: "c.jpg"}


def _database(path: Path, matches: dict[tuple[int, int], int]) -> Path:
    """Three images of 200 random keypoints; ``matches``: pair -> number of random raw matches."""
    rng = np.random.default_rng(0)
    with pycolmap.Database.open(path) as db:
        db.write_camera(make_camera(1, "SIMPLE_RADIAL", 640, 480, 500.0), use_camera_id=True)
        for i, name in NAMES.items():
            db.write_image(pycolmap.Image(name=name, camera_id=1, image_id=i), use_image_id=True)
            db.write_keypoints(i, (rng.random((200, 2)) * [640, 480]).astype(np.float32))
        for (a, b), n in matches.items():
            db.write_matches(a, b, np.stack([rng.permutation(200)[:n], rng.permutation(200)[:n]], 1).astype(np.uint32))
    return path


def test_no_match_at_all_is_told_from_matches_that_fit_no_scene(tmp_path: Path) -> None:
    config = SfmOptions()
    empty = _database(tmp_path / "empty.db", {})
    assert verification.verify(empty, config, num_threads=1) == 0
    text = no_verified_pairs(empty, NAMES, config)
    assert text.startswith("no pair of the 3 photos has a single feature match (200 keypoints per photo")
    assert "--set pairs.method=exhaustive" in text

    noise = _database(tmp_path / "noise.db", {(1, 2): 10, (2, 3): 14})  # below min_inliers: never verified
    assert verification.verify(noise, config, num_threads=1) == 0
    text = no_verified_pairs(noise, NAMES, config)
    assert text.startswith("2 pairs of photos have feature matches, but none fits one rigid scene (the best, ")
    assert "b.jpg and c.jpg: 14 matches" in text and "sfm.verification.min_inliers = 15" in text
    assert "sfm.verification.max_error (now 4 px)" in text


def _model(names: list[str]) -> SimpleNamespace:
    images = {i: SimpleNamespace(name=n) for i, n in enumerate(names, 1)}
    return SimpleNamespace(reg_image_ids=lambda: list(images), image=images.__getitem__)


def test_several_models_name_their_photos_and_the_ones_in_none() -> None:
    models = [_model([f"v{i:02d}.jpg" for i in range(10)]), _model(["w1.jpg", "w0.jpg"])]
    text = several_models(models, [*(f"v{i:02d}.jpg" for i in range(10)), "w0.jpg", "w1.jpg", "x.jpg"])
    assert text.startswith("the photos form 2 separate models that share too few matches to be joined: "
                           "model 0 (chosen, 10 photos: v00.jpg, v01.jpg, ")
    assert "v07.jpg and 2 more); model 1 (2 photos: w0.jpg, w1.jpg); in none: x.jpg." in text
    assert "--set sfm.mapping.mapper=global" in text


def _verified(path: Path, pairs: dict[tuple[int, int], range],
              keypoints: dict[int, np.ndarray] | None = None) -> Path:
    """Four images a-d of 100 keypoints (``keypoints``: image id -> (100, 2) positions; default all at 0);
    ``pairs``: verified pair -> the keypoint indices matched to the same indices in the other image."""
    with pycolmap.Database.open(path) as db:
        db.write_camera(make_camera(1, "SIMPLE_RADIAL", 640, 480, 500.0), use_camera_id=True)
        for i, name in enumerate("abcd", 1):
            db.write_image(pycolmap.Image(name=f"{name}.jpg", camera_id=1, image_id=i), use_image_id=True)
            db.write_keypoints(i, np.zeros((100, 2), np.float32) if keypoints is None
                               else keypoints[i].astype(np.float32))
        for (a, b), indices in pairs.items():
            geometry = pycolmap.TwoViewGeometry()
            geometry.config = pycolmap.TwoViewGeometryConfiguration.UNCALIBRATED
            geometry.inlier_matches = np.stack([np.array(indices)] * 2, 1).astype(np.uint32)
            db.write_two_view_geometry(a, b, geometry)
    return path


def test_photos_outside_a_model_are_told_whether_any_mapper_could_join_them(tmp_path: Path) -> None:
    model = _model(["a.jpg", "b.jpg"])
    # c continues 30 of the a-b tracks; d only 10, through c (its own matches with b start new tracks)
    joined = _verified(tmp_path / "joined.db", {(1, 2): range(50), (2, 3): range(30), (2, 4): range(50, 60),
                                                (3, 4): range(10)})
    assert tracks_into(joined, model) == {"c.jpg": 30, "d.jpg": 10}
    text = several_models([model, _model(["c.jpg", "d.jpg"])], ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
                          tracks_into(joined, model), 15)
    assert "--set sfm.mapping.mapper=global" in text and "no mapper" not in text

    # a walk whose tracks end at b: c and d match b (and each other) on points a never saw but 2
    cut = _verified(tmp_path / "cut.db", {(1, 2): range(50), (2, 3): range(50, 90), (3, 4): range(100),
                                          (1, 3): range(80, 82)})
    shared = tracks_into(cut, model)
    assert shared == {"c.jpg": 2, "d.jpg": 2}
    text = several_models([model, _model(["b.jpg", "c.jpg", "d.jpg"])], ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
                          shared, 15)
    assert ("The 2 photos outside it share at most 2 feature tracks with two or more of its photos (c.jpg; "
            "registering a photo needs sfm.mapping.abs_pose_min_num_inliers = 15)") in text
    assert "no mapper can join the parts at one scale" in text and "mapper=global" not in text


def test_matches_that_stand_still_are_told_as_a_static_background(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    points = (rng.random((100, 2)) * [600, 440] + 20).astype(np.float32)
    moved = {1: points, 2: points + [0.5, -0.5], 3: points + [30.0, 4.0], 4: points + [-25.0, 10.0]}

    def database(path: Path, pairs: dict[tuple[int, int], int]) -> Path:
        return _verified(path, {pair: range(n) for pair, n in pairs.items()}, moved)

    # 1-2 stands still (0.7 px), 3-4 moves by 56 px; a pair under min_inliers does not count
    assert still_share(database(tmp_path / "mixed.db", {(1, 2): 60, (3, 4): 40, (1, 3): 10}), 15) == 0.6
    assert still_share(database(tmp_path / "moving.db", {(1, 3): 80, (2, 4): 80}), 15) == 0.0
    assert still_share(database(tmp_path / "none.db", {}), 15) == 0.0
    assert 0.0 < STILL_SHARE <= 0.6
    text = static_background(0.991)
    assert text.startswith("99% of the verified feature matches stay at the same pixel from photo to photo")
    assert "--preset turntable" in text and "masks.method=folder" in text
