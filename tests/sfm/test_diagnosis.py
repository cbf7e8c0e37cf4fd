"""What sfm says when it cannot use the photos: no match at all, matches that fit no scene, several models."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pycolmap

from photogrammetry.sfm import verification
from photogrammetry.sfm.database import make_camera
from photogrammetry.sfm.diagnosis import no_verified_pairs, several_models
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
