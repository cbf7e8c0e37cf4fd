"""A mapping retry kept only where it keeps the scale of the model it replaces, and no global retry on a walk."""

from __future__ import annotations

import copy
import dataclasses
import logging

import numpy as np
import pycolmap
import pytest

from photogrammetry.sfm import mapping
from photogrammetry.sfm.continuity import keeps_scale, scale_change
from photogrammetry.sfm.options import MappingOptions, SfmOptions
from photogrammetry.sfm.reach import Cut, cut


def _walk(frames: int = 10) -> pycolmap.Reconstruction:
    options = pycolmap.SyntheticDatasetOptions()
    options.num_rigs, options.num_cameras_per_rig = 1, 1
    options.num_frames_per_rig, options.num_points3D = frames, 200
    pycolmap.set_random_seed(0)
    return pycolmap.synthesize_dataset(options)


def _broken(model: pycolmap.Reconstruction, shallower: float = 0.25) -> pycolmap.Reconstruction:
    """``model`` with its later half of cameras moved ahead along their axes by ``shallower`` x their
    median depth: those views see the scene about that much closer, a break in scale."""
    broken = copy.deepcopy(model)
    ids = sorted(broken.reg_image_ids())
    for image_id in ids[len(ids) // 2:]:
        image = broken.image(image_id)
        pose = image.cam_from_world()
        depths = [(pose * broken.point3D(p.point3D_id).xyz)[2] for p in image.points2D if p.has_point3D()]
        rotation = pose.rotation.matrix()
        centre = image.projection_center() + shallower * float(np.median(depths)) * rotation[2]
        broken.frame(image.frame_id).rig_from_world = pycolmap.Rigid3d(pycolmap.Rotation3d(rotation),
                                                                       -rotation @ centre)
    return broken


def _without_first(model: pycolmap.Reconstruction) -> pycolmap.Reconstruction:
    fewer = copy.deepcopy(model)
    fewer.deregister_frame(fewer.image(min(fewer.reg_image_ids())).frame_id)
    return fewer


def test_a_similar_model_keeps_the_scale_and_a_break_does_not(caplog):
    walk = _walk()
    moved = copy.deepcopy(walk)
    quaternion = np.array([0.3, -0.2, 0.1, 0.9]) / np.linalg.norm([0.3, -0.2, 0.1, 0.9])
    moved.transform(pycolmap.Sim3d(2.5, pycolmap.Rotation3d(quaternion), np.array([1.0, 2.0, 3.0])))
    assert scale_change(walk, moved).change < 1e-9
    found = scale_change(walk, _broken(walk))
    assert found.change > 0.12 and found.images == 10  # half at 1, half at 0.75: 0.14 from their median
    limit = MappingOptions().retry_max_scale_change
    assert keeps_scale(walk, moved, limit, "a retry")
    with caplog.at_level(logging.INFO, logger="photogrammetry.sfm"):
        assert not keeps_scale(walk, _broken(walk), limit, "the retry with the lens distortion held")
    assert "not used, a break in scale" in caplog.text and "retry_max_scale_change = 0.1" in caplog.text


def test_too_few_shared_images_cannot_refuse_a_retry():
    walk = _walk(4)
    fewer = copy.deepcopy(walk)
    for image_id in sorted(fewer.reg_image_ids())[:2]:
        fewer.deregister_frame(fewer.image(image_id).frame_id)
    assert scale_change(fewer, _broken(walk, 0.5)) is None
    assert keeps_scale(fewer, _broken(walk, 0.5), 0.1, "a retry")


def _mapper(results: dict, calls: list):
    def run(mapper, database, images, out, config, num_threads, *, distortion=True, light=False):
        key = "held" if mapper == "incremental" and not distortion else mapper
        calls.append(key)
        return [copy.deepcopy(m) for m in results[key]]
    return run


def test_a_retry_that_registers_more_but_breaks_the_scale_is_refused(monkeypatch, tmp_path):
    walk = _walk()
    calls: list[str] = []
    monkeypatch.setattr(mapping, "_may_register", lambda models, database, config: True)
    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)],
                                                        "held": [_broken(walk)]}, calls))
    config = SfmOptions(mapping=MappingOptions(retry_global=False))
    outcome = mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                                  num_threads=1)
    assert calls == ["incremental", "held"]
    assert outcome.models[0].num_reg_images() == 9  # the held retry's 10 are not taken
    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)], "held": [walk]}, []))
    assert mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                               num_threads=1).models[0].num_reg_images() == 10


@pytest.mark.parametrize("forward", [0.8, 0.1])
def test_the_global_retry_is_not_run_where_the_cameras_move_straight_ahead(monkeypatch, tmp_path, caplog, forward):
    walk = _walk()
    calls: list[str] = []
    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)], "global": [walk]},
                                                       calls))
    monkeypatch.setattr(mapping, "forward_motion", lambda model: forward)
    config = SfmOptions(refine_extra_params="never")
    with caplog.at_level(logging.INFO, logger="photogrammetry.sfm"):
        outcome = mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                                      num_threads=1)
    if forward > 0.35:
        assert calls == ["incremental"]
        assert "no global retry: the cameras move mostly straight ahead (forward motion 0.80)" in caplog.text
        assert outcome.attempts[-1] == "global: not run, the cameras move straight ahead"
        assert outcome.mapper == "incremental" and outcome.models[0].num_reg_images() == 9
    else:
        assert calls == ["incremental", "global"]
        assert outcome.mapper == "global" and outcome.models[0].num_reg_images() == 10


def test_an_image_left_out_reaches_the_model_only_through_keypoints_it_can_triangulate(synthetic_sfm):
    """With one other image registered, no keypoint of it has a verified match to a second: none is a 3D point."""
    model = pycolmap.Reconstruction(synthetic_sfm.model)
    ids = {int(i) for i in model.reg_image_ids()}
    database = synthetic_sfm.database
    assert cut(database, ids, set(), 15, structure_less=False).left_out == 0  # none left out
    fewer = cut(database, ids - {max(ids)}, set(), 15, structure_less=False)
    assert fewer.left_out == 1 and fewer.into > 15 and fewer.may_add(MappingOptions())
    alone = cut(database, {min(ids)}, set(), 15, structure_less=False)
    assert alone.into == 0 and alone.out_of > 15  # the others map without it and may register it
    assert cut(database, {min(ids)}, set(), 15, structure_less=True).into > 15  # 2D-2D matches count


def _database(path, pairs: dict[tuple[int, int], list[tuple[int, int]]], images: int = 4):
    """A database of ``images`` images whose verified pairs hold the given inlier matches (keypoint indices)."""
    path.unlink(missing_ok=True)
    with pycolmap.Database.open(path) as db:
        camera = db.write_camera(pycolmap.Camera(model="SIMPLE_PINHOLE", width=100, height=100, params=[100, 50, 50]))
        for i in range(images):
            db.write_image(pycolmap.Image(name=f"{i}.png", camera_id=camera))
        for (a, b), matches in pairs.items():
            geometry = pycolmap.TwoViewGeometry()
            geometry.config = pycolmap.TwoViewGeometryConfiguration.CALIBRATED
            geometry.inlier_matches = np.array(matches, np.uint32).reshape(-1, 2)
            db.write_two_view_geometry(a, b, geometry)
    return path


def test_the_cut_bounds_registration_both_ways_initial_pairs_and_joins_through_shared_images(tmp_path):
    """Image 1 left out, image 2 shared with another model, 3 and 4 the model's others: image 2's keypoints
    0-19 match image 1, 50-69 image 3, so no model of one side triangulates a keypoint that the other side
    matches; each bound reaches what the mapper needs once the matches allow it."""
    options = MappingOptions()
    same = [(k, k) for k in range(20)]
    pairs = {(1, 2): same, (2, 3): [(k, k) for k in range(50, 70)], (3, 4): [(k, k) for k in range(30)]}
    bounds = cut(_database(tmp_path / "db", pairs), {2, 3, 4}, {2}, 15, structure_less=False)
    assert bounds == Cut(left_out=1, shared=1, placed=3, into=0, out_of=0, across=0, both_sides=0)
    assert not bounds.may_add(options)
    assert dataclasses.replace(bounds, left_out=3).may_add(options)  # A and C more than the model: no B needed
    assert not cut(_database(tmp_path / "db", pairs), {2, 3, 4}, set(), 15, structure_less=False).may_add(options)
    joined = {**pairs, (2, 3): [(k, k) for k in [17, 18, 19, *range(50, 67)]]}  # 3 keypoints of 2 on both sides
    assert cut(_database(tmp_path / "db", joined), {2, 3, 4}, {2}, 15, structure_less=False).both_sides == 3
    assert cut(_database(tmp_path / "db", joined), {2, 3, 4}, {2}, 15, structure_less=False).may_add(options)
    for count, may in ((49, False), (50, True)):  # an initial pair across, on keypoints no third image has
        across = {**pairs, (1, 3): [(20 + k, 70 + k) for k in range(count)]}
        found = cut(_database(tmp_path / "db", across), {2, 3, 4}, {2}, 15, structure_less=False)
        assert (found.across, found.into, found.may_add(options)) == (count, 0, may)
    into = {**pairs, (1, 3): [(k, k) for k in range(15)]}  # image 3's keypoints 0-14 are image 4's too
    assert cut(_database(tmp_path / "db", into), {2, 3, 4}, {2}, 15, structure_less=False).into == 15
    out_of = {**pairs, (1, 3): [(k, 100 + k) for k in range(15)]}  # image 1's keypoints 0-14 are image 2's too
    found = cut(_database(tmp_path / "db", out_of), {2, 3, 4}, {2}, 15, structure_less=False)
    assert (found.into, found.out_of, found.across, found.may_add(options)) == (0, 15, 15, True)


def test_no_retry_with_the_distortion_held_where_no_image_left_out_could_register(monkeypatch, tmp_path, caplog):
    walk = _walk()
    calls: list[str] = []
    seen: list[tuple[set, set]] = []
    bounds = Cut(left_out=1, shared=0, placed=9, into=14, out_of=14, across=49, both_sides=2)

    def bound(database, placed, shared, min_inliers, *, structure_less):
        seen.append((placed, shared))
        return bounds

    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)], "held": [walk]}, calls))
    monkeypatch.setattr("photogrammetry.sfm.reach.cut", bound)
    config = SfmOptions(mapping=MappingOptions(retry_global=False))
    with caplog.at_level(logging.INFO, logger="photogrammetry.sfm"):
        outcome = mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                                      num_threads=1)
    assert calls == ["incremental"] and outcome.models[0].num_reg_images() == 9
    assert ("no image left out has more than 14 verified matches with keypoints the model can triangulate, no image "
            "of the model more than 14 with those of the 1 left out (15 needed") in caplog.text
    assert outcome.attempts[-1] == "incremental, distortion held: not run, no image left out could register or join"
    assert seen[-1] == ({int(i) for i in walk.reg_image_ids()} - {min(walk.reg_image_ids())}, set())
    piece = copy.deepcopy(walk)  # a piece that shares images 2 and 3 with the largest model
    for image_id in sorted(piece.reg_image_ids())[3:]:
        piece.deregister_frame(piece.image(image_id).frame_id)
    monkeypatch.setattr(mapping, "_joined", lambda models, *args, **kwargs: models)  # keep the piece apart
    for both_sides, runs in ((2, ["incremental"]), (3, ["incremental", "held"])):  # a join needs 3 shared points
        calls.clear()
        bounds = dataclasses.replace(bounds, shared=2, both_sides=both_sides)
        monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk), piece],
                                                            "held": [walk]}, calls))
        registered = mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                                         num_threads=1).models[0].num_reg_images()
        assert calls == runs and registered == (10 if len(runs) == 2 else 9)
        assert seen[-1][1] == {int(i) for i in sorted(walk.reg_image_ids())[1:3]}
    for more in ({"into": 15}, {"out_of": 15}, {"across": 50}):
        bounds = dataclasses.replace(bounds, shared=0, both_sides=0, **more)
        monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)], "held": [walk]}, []))
        assert mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                                   num_threads=1).models[0].num_reg_images() == 10
