"""The initial pair check (photogrammetry.sfm.initial_pair) with pycolmap's estimators and mapper."""

from __future__ import annotations

import numpy as np
import pycolmap
import pytest
from scipy.spatial.transform import Rotation

from photogrammetry.sfm import initial_pair
from photogrammetry.sfm.initial_pair_options import InitialPairOptions
from photogrammetry.sfm.mapping import incremental_options
from photogrammetry.sfm.options import SfmOptions
from tests.sfm.synthetic import ring_database

CAMERA = pycolmap.Camera(model="PINHOLE", width=540, height=360, params=[500.0, 500.0, 270.0, 180.0])


def _turn_before_a_wall(seed: int, relief: float, *, turn: float = 30.0,
                        side: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two views ``turn`` degrees apart, ``side`` m to the side, of points on a wall 4 m away that stand out
    of it by ``relief`` m (standard deviation); the keypoints with 0.7 px of noise and their matches."""
    rng = np.random.default_rng(seed)
    rotation = Rotation.from_euler("y", turn, degrees=True).as_matrix()
    wall = np.c_[rng.uniform(-3, 3, 400), rng.uniform(-1.5, 1.5, 400), 4.0 + rng.normal(0, relief, 400)]
    wall = wall @ Rotation.from_euler("y", turn / 2, degrees=True).as_matrix().T
    views = []
    for R, t in ((np.eye(3), np.zeros(3)), (rotation, -rotation @ np.array([side, 0.0, 0.3]))):
        local = wall @ R.T + t
        views.append((local[:, :2] / local[:, 2:] * 500.0 + [270.0, 180.0], local[:, 2]))
    (x1, z1), (x2, z2) = views
    seen = (z1 > 0) & (z2 > 0) & np.all((x1 > 0) & (x1 < [540, 360]) & (x2 > 0) & (x2 < [540, 360]), axis=1)
    x1, x2 = (x[seen] + rng.normal(0, 0.7, x[seen].shape) for x in (x1, x2))
    return x1, x2, np.tile(np.arange(len(x1))[:, None], (1, 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_near_planar_turn_is_contradicted_and_a_deep_one_is_not(seed):
    """The homography pose of a turn before a wall (10 cm of relief) is contradicted by the essential matrix
    by more than the default limit; with 30 cm of relief the two agree (or no homography is chosen)."""
    limit = SfmOptions().initial_pair.max_disagreement_deg
    flat, deep = (initial_pair.pair_pose(CAMERA, x1, CAMERA, x2, matches, max_error=4.0, seed=0)
                  for x1, x2, matches in (_turn_before_a_wall(seed, relief) for relief in (0.1, 0.3)))
    assert flat is not None and deep is not None
    assert flat.disagreement_deg > limit
    assert deep.disagreement_deg <= limit
    assert flat.inliers > 100 and deep.inliers > 100


def _verified_ring(path, frames: int = 8):
    truth = ring_database(path, frames=frames, points=400, seed=3, unmatched=0)
    pycolmap.geometric_verification(path, two_view_geometry_options=pycolmap.TwoViewGeometryOptions())
    return truth


def test_colmap_order_puts_the_best_connected_image_and_its_best_partner_first(tmp_path):
    db_path = tmp_path / "database.db"
    _verified_ring(db_path, frames=5)
    with pycolmap.Database.open(db_path) as db:
        ids, counts = db.read_two_view_geometry_num_inliers()
    shared = {tuple(int(i) for i in pycolmap.pair_id_to_image_pair(int(p))): int(c) for p, c in zip(ids, counts)}
    order = initial_pair.colmap_order(db_path, 15, 50)
    totals = {i: sum(c for pair, c in shared.items() if i in pair) for i in range(1, 6)}
    first = max(totals, key=lambda i: (totals[i], -i))
    assert order[0][0] == first
    partners = {(set(pair) - {first}).pop(): c for pair, c in shared.items() if first in pair}
    assert order[0][1] == max(partners, key=lambda j: (partners[j], -j))
    assert len(order) == len({tuple(sorted(p)) for p in order}) == sum(c >= 50 for c in shared.values())


def test_a_sound_scene_is_left_to_colmap(tmp_path):
    """Points spread in depth: no pair is contradicted, so COLMAP chooses as before."""
    db_path = tmp_path / "database.db"
    _verified_ring(db_path)
    config = SfmOptions()
    assert initial_pair.choose(db_path, config.initial_pair, incremental_options(config, 1)) is None


def test_mapping_from_a_given_pair_registers_every_view_at_the_true_poses(tmp_path):
    db_path = tmp_path / "database.db"
    truth = _verified_ring(db_path)
    (tmp_path / "images").mkdir()
    options = pycolmap.IncrementalPipelineOptions()
    options.extract_colors = False
    options.num_threads = 1
    models = initial_pair.map_from((2, 6), db_path, tmp_path / "images", tmp_path / "out", options)
    assert len(models) == 1
    model = models[0]
    assert model.num_reg_images() == 8
    errors = []
    for i in truth.reg_image_ids():
        for j in truth.reg_image_ids():
            if i < j:
                ours = model.image(j).cam_from_world() * model.image(i).cam_from_world().inverse()
                true = truth.image(j).cam_from_world() * truth.image(i).cam_from_world().inverse()
                turn = ours.rotation.matrix().T @ true.rotation.matrix()
                errors.append(np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1))))
    assert max(errors) < 1.0


def test_the_options_refuse_a_limit_out_of_range():
    from photogrammetry.errors import ConfigError

    with pytest.raises(ConfigError, match="max_disagreement_deg"):
        InitialPairOptions(max_disagreement_deg=0.0)
    with pytest.raises(ConfigError, match="max_pairs"):
        InitialPairOptions(max_pairs=0)


def test_a_contradicted_first_pick_gives_way_to_the_next_sound_pair(tmp_path, caplog):
    """Image 1 sees a wall with image 2 (a turn, 10 cm of relief: COLMAP's first pick, contradicted) and a deep
    scene with image 3 (fewer matches): the mapper is told to start from 1 and 3."""
    flat, deep = _turn_before_a_wall(0, 0.1), _turn_before_a_wall(1, 0.5, turn=20.0)
    deep = tuple(x[:len(flat[0]) - 20] for x in deep)
    path = tmp_path / "database.db"
    with pycolmap.Database.open(path) as db:
        camera_id = db.write_camera(CAMERA)
        keypoints = {1: np.r_[flat[0], deep[0]], 2: flat[1], 3: deep[1]}
        for image_id, points in keypoints.items():
            db.write_image(pycolmap.Image(name=f"{image_id}.png", camera_id=camera_id, image_id=image_id), True)
            db.write_keypoints(image_id, points.astype(np.float32))
        for other, matches in ((2, flat[2]), (3, deep[2] + [len(flat[0]), 0])):
            geometry = pycolmap.TwoViewGeometry()
            geometry.inlier_matches = matches.astype(np.uint32)
            geometry.config = pycolmap.TwoViewGeometryConfiguration.CALIBRATED
            db.write_matches(1, other, matches.astype(np.uint32))
            db.write_two_view_geometry(1, other, geometry)
    pipeline = pycolmap.IncrementalPipelineOptions()
    pipeline.mapper.init_min_tri_angle = 4.0
    assert initial_pair.colmap_order(path, 15, 50)[0] == (1, 2)
    with caplog.at_level("INFO", logger="photogrammetry.sfm"):
        assert initial_pair.choose(path, SfmOptions().initial_pair, pipeline) == (1, 3)
    assert "COLMAP's first choice, 1.png and 2.png" in caplog.text
    assert initial_pair.choose(path, InitialPairOptions(enabled=False), pipeline) is None
