"""Pieces of a mapping run that share a registered image are joined into the largest model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.sfm.options import MappingOptions, SfmOptions
from photogrammetry.sfm.pieces import join_pieces, similarity
from tests.sfm.synthetic import ring_database


def _split(path: Path) -> tuple[pycolmap.Reconstruction, pycolmap.Reconstruction, pycolmap.Reconstruction]:
    """The true model of a synthetic ring of 10 views (its database at ``path``), and two pieces of it
    that share image 6: images 1-6 as they are, and images 6-10 moved by a similarity."""
    truth = ring_database(path, frames=10, points=200, seed=2, unmatched=5)
    first, second = pycolmap.Reconstruction(truth), pycolmap.Reconstruction(truth)
    for image_id in range(7, 11):
        first.deregister_frame(first.image(image_id).frame_id)
    for image_id in range(1, 6):
        second.deregister_frame(second.image(image_id).frame_id)
    second.transform(pycolmap.Sim3d(2.5, pycolmap.Rotation3d(np.array([0.1, 0.2, 0.3])), np.array([1.0, -2.0, 0.5])))
    return truth, first, second


def test_the_similarity_between_pieces_comes_from_the_shared_image_and_its_points(tmp_path):
    _, first, second = _split(tmp_path / "database.db")
    join = similarity(second, first, 3)
    assert join is not None and (join.shared_images, join.shared_points) == (1, 200)
    assert join.sim.scale == pytest.approx(0.4)
    moved = pycolmap.Reconstruction(second)
    moved.transform(join.sim)
    assert np.allclose(moved.image(6).projection_center(), first.image(6).projection_center())
    assert np.allclose(moved.image(6).cam_from_world().rotation.matrix(), first.image(6).cam_from_world().rotation.matrix())
    assert similarity(second, first, 201) is None  # too few shared points


def test_a_piece_sharing_an_image_is_joined_at_the_true_poses(tmp_path):
    truth, first, second = _split(tmp_path / "database.db")
    models = join_pieces([first, second], tmp_path / "database.db", SfmOptions(), num_threads=1)
    assert len(models) == 1 and models[0].num_reg_images() == 10
    for image_id in range(1, 11):
        ours, true = models[0].image(image_id).cam_from_world(), truth.image(image_id).cam_from_world()
        assert np.allclose(ours.rotation.matrix(), true.rotation.matrix(), atol=1e-6)
        assert np.allclose(ours.translation, true.translation, atol=1e-5)


def test_pieces_are_left_apart_when_joining_is_off_or_nothing_is_shared(tmp_path):
    _, first, second = _split(tmp_path / "database.db")
    off = SfmOptions(mapping=MappingOptions(join_min_shared_points=1000))
    assert [m.num_reg_images() for m in join_pieces([first, second], tmp_path / "database.db", off,
                                                    num_threads=1)] == [6, 5]
    second.deregister_frame(second.image(6).frame_id)
    assert [m.num_reg_images() for m in join_pieces([first, second], tmp_path / "database.db", SfmOptions(),
                                                    num_threads=1)] == [6, 4]
    with pytest.raises(ConfigError, match="join_min_shared_points"):
        MappingOptions(join_min_shared_points=-1)


def test_a_light_pass_joins_its_pieces_with_one_light_adjustment(tmp_path, monkeypatch):
    """The light first pass (which only finds the focal length) adjusts a joined model once, at the light
    mapper's tolerance; the other passes twice at the refinement's."""
    from photogrammetry.sfm import mapping, pieces

    truth, first, second = _split(tmp_path / "database.db")
    seen = []
    real = pieces._triangulate
    monkeypatch.setattr(pieces, "_triangulate", lambda *a, **k: seen.append(k.get("light_tolerance")) or real(*a, **k))
    models = mapping._joined([first, second], "incremental", tmp_path / "database.db", SfmOptions(), 1, light=True)
    assert seen == [pytest.approx(mapping.LIGHT_BA_TOLERANCE)] and len(models) == 1
    for image_id in range(1, 11):
        ours, true = models[0].image(image_id).cam_from_world(), truth.image(image_id).cam_from_world()
        assert np.allclose(ours.translation, true.translation, atol=1e-4)
    _, first, second = _split(tmp_path / "again.db")
    mapping._joined([first, second], "incremental", tmp_path / "again.db", SfmOptions(), 1)
    assert seen[-1] is None
