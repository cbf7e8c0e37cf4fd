"""A mapping retry kept only where it keeps the scale of the model it replaces, and no global retry on a walk."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pycolmap
import pytest

from photogrammetry.sfm import mapping
from photogrammetry.sfm.continuity import keeps_scale, scale_change
from photogrammetry.sfm.options import MappingOptions, SfmOptions
from photogrammetry.sfm.reach import most_matches


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
    ids = sorted(model.reg_image_ids())
    assert most_matches(model, synthetic_sfm.database, 15, structure_less=False) == 0  # none left out
    without = copy.deepcopy(model)
    without.deregister_frame(without.image(ids[-1]).frame_id)
    assert most_matches(without, synthetic_sfm.database, 15, structure_less=False) > 15
    for image_id in ids[1:-1]:
        without.deregister_frame(without.image(image_id).frame_id)
    assert without.num_reg_images() == 1
    assert most_matches(without, synthetic_sfm.database, 15, structure_less=False) == 0
    assert most_matches(without, synthetic_sfm.database, 15, structure_less=True) > 15  # 2D-2D matches count


def test_no_retry_with_the_distortion_held_where_no_image_left_out_could_register(monkeypatch, tmp_path, caplog):
    walk = _walk()
    calls: list[str] = []
    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)], "held": [walk]}, calls))
    monkeypatch.setattr("photogrammetry.sfm.reach.most_matches", lambda *args, **kwargs: 14)
    config = SfmOptions(mapping=MappingOptions(retry_global=False))
    with caplog.at_level(logging.INFO, logger="photogrammetry.sfm"):
        outcome = mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                                      num_threads=1)
    assert calls == ["incremental"] and outcome.models[0].num_reg_images() == 9
    assert ("no image left out has more than 14 verified matches with keypoints the model can triangulate "
            "(15 needed") in caplog.text
    assert outcome.attempts[-1] == "incremental, distortion held: not run, no image left out could register"
    piece = copy.deepcopy(walk)  # a piece that shares images with the largest model: the retry may join it
    for image_id in sorted(piece.reg_image_ids())[3:]:
        piece.deregister_frame(piece.image(image_id).frame_id)
    calls.clear()
    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk), piece],
                                                        "held": [walk]}, calls))
    monkeypatch.setattr(mapping, "_joined", lambda models, *args, **kwargs: models)  # keep the piece apart
    assert mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                               num_threads=1).models[0].num_reg_images() == 10
    assert calls == ["incremental", "held"]
    monkeypatch.setattr(mapping, "run_mapper", _mapper({"incremental": [_without_first(walk)], "held": [walk]}, []))
    monkeypatch.setattr("photogrammetry.sfm.reach.most_matches", lambda *args, **kwargs: 15)
    assert mapping.reconstruct(tmp_path / "db", tmp_path, tmp_path, config, num_images=10, connected=10,
                               num_threads=1).models[0].num_reg_images() == 10
