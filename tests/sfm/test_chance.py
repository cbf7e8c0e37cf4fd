"""Verified pairs whose inliers could be chance are verified again at a tighter threshold and dropped.

Random matches between unrelated photos stand for the chance pairs (the office walk's were 20-47 raw
matches with 15-35 inliers, which no uniform sample reproduces)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.sfm import verification
from photogrammetry.sfm.database import make_camera
from photogrammetry.sfm.options import SfmOptions, VerificationOptions
from tests.sfm.pair import SIZE, two_views

def _database(path: Path) -> Path:
    """Image 1 with image 2: 45 true matches (0.3 px noise); with images 3-5: 250 random matches each."""
    rng = np.random.default_rng(3)
    x1, x2 = two_views(rng, 45, degrees=5.0)
    x2 = x2 + rng.normal(0.0, 0.3, x2.shape)
    with pycolmap.Database.open(path) as db:
        db.write_camera(make_camera(1, "SIMPLE_RADIAL", *SIZE, None), use_camera_id=True)
        for i in range(1, 6):
            db.write_image(pycolmap.Image(name=f"{i}.jpg", camera_id=1, image_id=i), use_image_id=True)
        db.write_keypoints(1, np.vstack([x1, rng.random((250, 2)) * SIZE]).astype(np.float32))
        db.write_keypoints(2, x2.astype(np.float32))
        index = np.arange(250, dtype=np.uint32)
        db.write_matches(1, 2, np.column_stack([index[:45], index[:45]]))
        for i in range(3, 6):
            db.write_keypoints(i, (rng.random((250, 2)) * SIZE).astype(np.float32))
            db.write_matches(1, i, np.column_stack([index + 45, rng.permutation(250).astype(np.uint32)]))
    return path


def _inliers(path: Path) -> dict[tuple[int, int], int]:
    with pycolmap.Database.open(path) as db:
        ids, counts = db.read_two_view_geometry_num_inliers()
    return {tuple(int(i) for i in pycolmap.pair_id_to_image_pair(p)): n for p, n in zip(ids, counts, strict=True)}


def test_inliers_that_chance_gives_are_dropped_and_true_ones_kept(tmp_path: Path) -> None:
    def chance_pairs(core: float) -> tuple[int, int]:
        """(pairs of random matches verified, inliers of the true pair)."""
        path = _database(tmp_path / f"{core}.db")  # no ratio test: uniform chance matches are too many for it
        options = VerificationOptions(min_inlier_ratio=0.0, core_fraction=core)
        verification.verify(path, SfmOptions(verification=options), num_threads=1)
        inliers = _inliers(path)
        return sum(inliers.get((1, i), 0) >= 15 for i in range(3, 6)), inliers[(1, 2)]

    alone, true_inliers = chance_pairs(0.0)  # COLMAP's verification alone: 3 of 3 at 17-19 inliers
    assert alone == 3 and true_inliers >= 40
    assert chance_pairs(0.5) == (1, true_inliers)  # a pair that passes keeps its first inliers


def test_verifying_again_skips_the_pairs_the_first_verification_rejected_and_keeps_their_matches(tmp_path):
    path = _database(tmp_path / "database.db")
    strict = SfmOptions(verification=VerificationOptions(min_inlier_ratio=0.0, core_fraction=0.5))
    verification.verify(path, strict, num_threads=1)
    first = {pair for pair, n in _inliers(path).items() if n >= 15}
    assert (1, 2) in first and len(first) == 2  # one chance pair passes the core check (above)
    with pycolmap.Database.open(path) as db:
        raw = db.num_matches()
    loose = SfmOptions(verification=VerificationOptions(min_inlier_ratio=0.0, core_fraction=0.0))
    assert verification.verify_again(path, loose, num_threads=1) == 2  # a full verification: 4 (above)
    assert {pair for pair, n in _inliers(path).items() if n >= 15} == first
    with pycolmap.Database.open(path) as db:
        assert db.num_matches() == raw and db.num_matched_image_pairs() == 4


def test_verifying_again_without_the_recheck_keeps_the_pairs_that_passed_it(tmp_path):
    """``recheck=False`` (the pairs verified already passed the chance check): no pair is checked again,
    where the check (here at a threshold that drops every pair) would drop them."""
    path = _database(tmp_path / "database.db")
    options = VerificationOptions(min_inlier_ratio=0.0, core_fraction=0.5)
    verification.verify(path, SfmOptions(verification=options), num_threads=1)
    first = {pair for pair, n in _inliers(path).items() if n >= 15}
    harsh = SfmOptions(verification=VerificationOptions(min_inlier_ratio=0.0, core_fraction=0.01))
    assert verification.verify_again(path, harsh, num_threads=1, recheck=False) == len(first)
    assert verification.verify_again(path, harsh, num_threads=1) < len(first)


def _geometries(path: Path) -> dict[tuple[int, int], tuple[int, np.ndarray]]:
    with pycolmap.Database.open(path) as db:
        return {pair: (int(db.read_two_view_geometry(*pair).config), db.read_two_view_geometry(*pair).inlier_matches)
                for pair in _inliers(path)}


def test_the_chance_check_and_the_pairs_between_two_sets_verify_alike_on_two_threads(tmp_path):
    """Each pair is estimated with the options' seed, so threads change neither which pairs drop nor what
    ``verify_between`` writes."""
    options = SfmOptions(verification=VerificationOptions(min_inlier_ratio=0.0, core_fraction=0.5))
    found = []
    for threads in (1, 2):
        path = _database(tmp_path / f"{threads}.db")
        verification.verify(path, options, num_threads=threads)
        with pycolmap.Database.open(path) as db:
            for pair in ((1, 2), (1, 4)):
                db.delete_two_view_geometry(*pair)
        added = verification.verify_between(path, SfmOptions(verification=VerificationOptions(
            min_inlier_ratio=0.0, core_fraction=0.0)), {1}, {2, 4, 5}, num_threads=threads)
        found.append((added, _geometries(path)))
    (added, one), (added_two, two) = found
    assert added == added_two == 3  # (1, 2), and (1, 4) and (1, 5) without the chance check
    assert one.keys() == two.keys() and sum(n >= 15 for n in _inliers(tmp_path / "1.db").values()) == 4
    for pair, (config, inliers) in one.items():
        assert two[pair][0] == config and np.array_equal(two[pair][1], inliers)
