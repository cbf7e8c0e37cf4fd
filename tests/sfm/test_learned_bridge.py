"""The learned bridge: which images and pairs it picks around a break, and its matches merged into the
database after the SIFT keypoints, so that a pair SIFT could not verify is verified and the SIFT
matches still point at their own keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.sfm import learned_bridge
from photogrammetry.sfm.bridge_options import LearnedBridgeOptions
from photogrammetry.sfm.database import make_camera
from photogrammetry.sfm.options import SfmOptions
from tests.sfm.pair import F_PX, SIZE, two_views

NAMES = [f"{i:05d}.png" for i in range(10)]


def _sift_database(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two images whose 60 SIFT keypoints each give 8 true raw matches, too few to verify (15); their keypoints."""
    x1, x2 = two_views(rng, 8, degrees=8.0, noise_px=0.3)
    k1 = np.vstack([x1, rng.random((52, 2)) * SIZE]).astype(np.float32)
    k2 = np.vstack([x2, rng.random((52, 2)) * SIZE]).astype(np.float32)
    with pycolmap.Database.open(path) as db:
        db.write_camera(make_camera(1, "SIMPLE_RADIAL", *SIZE, F_PX), use_camera_id=True)
        for i, keypoints in ((1, k1), (2, k2)):
            db.write_image(pycolmap.Image(name=NAMES[i - 1], camera_id=1, image_id=i), use_image_id=True)
            db.write_keypoints(i, keypoints)
        index = np.arange(8, dtype=np.uint32)
        db.write_matches(1, 2, np.column_stack([index, index]))
    return k1, k2


def _verified(path: Path) -> dict[tuple[int, int], int]:
    with pycolmap.Database.open(path) as db:
        ids, counts = db.read_two_view_geometry_num_inliers()
    return {tuple(int(i) for i in pycolmap.pair_id_to_image_pair(p)): int(n) for p, n in zip(ids, counts, strict=True)}


def test_learned_matches_appended_after_the_sift_keypoints_verify_the_pair(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    db = tmp_path / "database.db"
    k1, k2 = _sift_database(db, rng)
    config = SfmOptions()
    pair = [(NAMES[0], NAMES[1])]
    assert learned_bridge.verify_pairs(db, config, pair) == 0  # SIFT alone: 8 matches
    x1, x2 = two_views(rng, 40, degrees=8.0, noise_px=0.3)
    order = rng.permutation(40)  # the learned keypoints of image 2 in another order than image 1's
    learned = {NAMES[0]: x1.astype(np.float32), NAMES[1]: x2[order].astype(np.float32)}
    matches = {(NAMES[1], NAMES[0]): np.column_stack([np.arange(40), order])}  # given the other way round
    assert learned_bridge.merge(db, learned, matches) == 40
    with pycolmap.Database.open(db) as d:
        np.testing.assert_array_equal(np.asarray(d.read_keypoints(1))[:60, :2], k1)  # SIFT keypoints kept, in place
        np.testing.assert_allclose(np.asarray(d.read_keypoints(1))[60:, :2], x1, atol=1e-3)
        raw = np.asarray(d.read_matches(1, 2))
    assert len(raw) == 48 and (raw[:8] == np.arange(8)[:, None]).all()  # the SIFT matches first, as they were
    k_all = {1: np.vstack([k1, x1]), 2: np.vstack([k2, x2[order]])}
    assert (raw[8:] >= 60).all()  # learned matches offset past the SIFT keypoints of each image
    np.testing.assert_allclose(k_all[2][raw[8:, 1]], x2[raw[8:, 0] - 60], atol=1e-3)
    assert learned_bridge.verify_pairs(db, config, pair) == 1
    assert _verified(db)[(1, 2)] >= 40


def test_a_verified_geometry_is_replaced_only_by_one_with_more_inliers(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    db = tmp_path / "database.db"
    _sift_database(db, rng)
    x1, x2 = two_views(rng, 30, degrees=8.0, noise_px=0.3)
    learned_bridge.merge(db, {NAMES[0]: x1, NAMES[1]: x2}, {(NAMES[0], NAMES[1]): np.column_stack([np.arange(30)] * 2)})
    config = SfmOptions()
    learned_bridge.verify_pairs(db, config, [(NAMES[0], NAMES[1])])
    before = _verified(db)[(1, 2)]
    with pycolmap.Database.open(db) as d:  # the raw matches now hold only the SIFT ones: fewer inliers
        d.delete_matches(1, 2)
        d.write_matches(1, 2, np.column_stack([np.arange(8, dtype=np.uint32)] * 2))
    assert learned_bridge.verify_pairs(db, config, [(NAMES[0], NAMES[1])]) == 1
    assert _verified(db)[(1, 2)] == before


def test_images_left_out_are_paired_with_their_neighbours_and_most_matched() -> None:
    registered = set(NAMES) - {NAMES[3], NAMES[4]}
    raw = {(NAMES[3], NAMES[8]): 40, (NAMES[3], NAMES[9]): 10, (NAMES[4], NAMES[5]): 30}
    found = learned_bridge.find_break(NAMES, registered, [], raw, LearnedBridgeOptions(neighbours=1, most_matched=1))
    assert found is not None
    assert set(found.pairs) == {(NAMES[2], NAMES[3]), (NAMES[3], NAMES[4]), (NAMES[4], NAMES[5]), (NAMES[3], NAMES[8])}
    assert found.images == (NAMES[2], NAMES[3], NAMES[4], NAMES[5], NAMES[8])
    assert not found.hanging


def test_a_weak_link_is_bridged_across_only() -> None:
    side = tuple(NAMES[:4])
    found = learned_bridge.find_break(NAMES, set(NAMES), [side], {}, LearnedBridgeOptions(neighbours=2, most_matched=0))
    assert found is not None
    assert set(found.pairs) == {(NAMES[2], NAMES[3]), (NAMES[2], NAMES[4]), (NAMES[3], NAMES[4]), (NAMES[3], NAMES[5]),
                                (NAMES[4], NAMES[5])}
    assert found.hanging == frozenset(side)


def test_nothing_to_bridge_where_every_image_is_registered_and_no_link_is_weak() -> None:
    assert learned_bridge.find_break(NAMES, set(NAMES), [], {}, LearnedBridgeOptions()) is None


def test_the_images_nearest_the_break_are_kept_within_max_images() -> None:
    registered = set(NAMES) - {NAMES[5]}
    found = learned_bridge.find_break(NAMES, registered, [], {}, LearnedBridgeOptions(neighbours=3, max_images=3,
                                                                                       most_matched=0))
    assert found is not None
    assert found.images == (NAMES[4], NAMES[5], NAMES[6])
    assert set(found.pairs) == {(NAMES[4], NAMES[5]), (NAMES[4], NAMES[6]), (NAMES[5], NAMES[6])}


@pytest.mark.parametrize("field", ["neighbours", "max_images", "max_keypoints", "resize_max"])
def test_options_below_one_are_refused_naming_the_option(field: str) -> None:
    with pytest.raises(ConfigError, match=f"sfm.learned_bridge.{field}"):
        LearnedBridgeOptions(**{field: 0})


def test_the_mapper_continues_from_a_model_whose_images_got_learned_keypoints(tmp_path: Path) -> None:
    from photogrammetry.sfm import plausible
    from photogrammetry.sfm.mapping import MappingOutcome

    from .synthetic import ring_database

    db = tmp_path / "database.db"
    truth = ring_database(db, frames=8, points=400, seed=3, unmatched=10)
    names = {truth.image(i).name: int(i) for i in truth.reg_image_ids()}
    left = sorted(names)[-1]
    old = plausible.without(truth, [plausible.Dropped(left, "left out")])
    rng = np.random.default_rng(0)
    learned_bridge.merge(db, {name: (rng.random((25, 2)) * SIZE).astype(np.float32) for name in names}, {})
    with pycolmap.Database.open(db) as d:
        counts = {name: len(d.read_keypoints(i)) for name, i in names.items()}
    extended = pycolmap.Reconstruction(str(learned_bridge.with_keypoints(old, db, tmp_path / "input")))
    for i in extended.reg_image_ids():
        image, before = extended.image(i), old.image(i)
        assert len(image.points2D) == counts[image.name] == len(before.points2D) + 25
        assert image.num_points3D == before.num_points3D
    (tmp_path / "images").mkdir()
    found = learned_bridge.extend(db, tmp_path / "images", tmp_path / "scratch", SfmOptions(),
                                  MappingOutcome([old], "incremental", ()), 2)
    assert found.models[0].num_reg_images() == 8  # the image left out registered onto the model


def test_a_model_is_kept_for_a_stronger_link_only_where_a_link_was_bridged() -> None:
    from .test_links import _two_parts

    weak, strong, sound = _two_parts(across=10), _two_parts(across=40), _two_parts(across=120)
    assert learned_bridge.weakest(sound, 80) > learned_bridge.weakest(strong, 80) > learned_bridge.weakest(weak, 80)
    hanging = frozenset(sorted(weak.image(i).name for i in weak.reg_image_ids())[6:])
    config = SfmOptions()
    assert learned_bridge._better(weak, strong, config, hanging)  # as many images, the link stronger, same scale
    assert not learned_bridge._better(strong, weak, config, hanging)  # weaker
    assert not learned_bridge._better(weak, strong, config, frozenset())  # no link was bridged, no image added
