"""Weak links: parts of a model tied to the rest by few 3D points are reported, the model kept."""

from __future__ import annotations

import dataclasses

import numpy as np
import pycolmap
import pytest
from scipy.sparse import csr_matrix

from photogrammetry.errors import ConfigError
from photogrammetry.io.sfm import WeakLink, load_sfm, save_sfm_summary
from photogrammetry.sfm import links
from photogrammetry.sfm.options import SfmOptions


def _seen(tracks: list[list[int]], num_images: int) -> csr_matrix:
    """The ``points x images`` incidence of points seen by the images each track lists."""
    rows = [p for p, track in enumerate(tracks) for _ in track]
    cols = [i for track in tracks for i in track]
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(tracks), num_images))


def _window_tracks(images: list[int], per_window: int, span: int = 3, ring: bool = False) -> list[list[int]]:
    """``per_window`` points seen by each run of ``span`` consecutive images (around a ring with ``ring``)."""
    n = len(images)
    starts = range(n) if ring else range(n - span + 1)
    return [[images[(s + k) % n] for k in range(span)] for s in starts for _ in range(per_window)]


def test_two_clusters_linked_by_a_few_points_are_flagged():
    names = [f"{i:02d}.jpg" for i in range(12)]
    tracks = _window_tracks(list(range(6)), 80) + _window_tracks(list(range(6, 12)), 80)
    tracks += [[5, 6]] * 10 + [[4, 5, 6, 7]] * 5  # 15 points seen from both clusters
    found = links.weak_links(names, _seen(tracks, 12), min_points=50)
    assert len(found) == 1
    assert found[0].points == 15 and found[0].other_images == 6
    assert set(found[0].images) in ({f"{i:02d}.jpg" for i in range(6)}, {f"{i:02d}.jpg" for i in range(6, 12)})
    assert links.weak_links(names, _seen(tracks, 12), min_points=15) == []  # 15 is not fewer than 15
    assert links.weak_links(names, _seen(tracks, 12), min_points=0) == []  # the check off


def test_a_well_connected_ring_and_a_weak_end_image_are_not_flagged():
    names = [f"{i:02d}.jpg" for i in range(16)]
    default = SfmOptions().weak_link_points
    ring = _window_tracks(list(range(16)), 40, ring=True)  # any cut crosses it twice: 160 points
    assert links.weak_links(names, _seen(ring, 16), min_points=default) == []
    assert {w.points for w in links.weak_links(names, _seen(ring, 16), min_points=161)} == {160}
    # one image at the end of a walk that sees few points is a weakly registered image, not a weak link
    walk = _window_tracks(list(range(15)), 100) + [[14, 15]] * 8
    assert links.weak_links(names, _seen(walk, 16), min_points=default) == []


def test_two_breaks_along_a_walk_are_both_reported_weakest_first():
    names = [f"{i:02d}.jpg" for i in range(18)]
    tracks = (_window_tracks(list(range(6)), 60) + _window_tracks(list(range(6, 12)), 60)
              + _window_tracks(list(range(12, 18)), 60) + [[5, 6]] * 20 + [[11, 12]] * 8)
    found = links.weak_links(names, _seen(tracks, 18), min_points=50)
    assert [w.points for w in found] == [8, 20]
    assert set(found[0].images) == {f"{i:02d}.jpg" for i in range(12, 18)}
    assert set(found[1].images) == {f"{i:02d}.jpg" for i in range(6)}


def test_a_synthetic_reconstruction_has_none_and_the_summary_keeps_them(tmp_path, synthetic_sfm):
    options = pycolmap.SyntheticDatasetOptions(num_rigs=1, num_cameras_per_rig=1, num_frames_per_rig=8,
                                               num_points3D=200)
    with pycolmap.Database.open(tmp_path / "db.db") as db:
        model = pycolmap.synthesize_dataset(options, db)
    names, seen = links.incidence(model)
    assert len(names) == 8 and seen.shape == (model.num_points3D(), 8)
    assert seen.sum() == sum(len({e.image_id for e in p.track.elements}) for p in model.points3D.values())
    assert links.find(model, SfmOptions().weak_link_points) == ()
    assert synthetic_sfm.summary.weak_links == ()
    weak = (WeakLink(images=("a.jpg", "b.jpg"), points=12, other_images=6),)
    save_sfm_summary(tmp_path, dataclasses.replace(synthetic_sfm.summary, weak_links=weak))
    assert load_sfm(tmp_path).summary.weak_links == weak


def test_a_negative_threshold_is_refused():
    with pytest.raises(ConfigError, match="weak_link_points"):
        SfmOptions(weak_link_points=-1)


def test_the_maximum_spanning_forest_takes_the_heaviest_edges_one_tree_per_part():
    chain = np.array([[0, 5, 1, 0], [5, 0, 4, 2], [1, 4, 0, 3], [0, 2, 3, 0]], float)
    assert sorted(tuple(sorted(e)) for e in links.maximum_spanning_tree(chain)) == [(0, 1), (1, 2), (2, 3)]
    two = np.zeros((5, 5))
    two[0, 1] = two[1, 0] = two[1, 2] = two[2, 1] = 3.0
    two[3, 4] = two[4, 3] = 1.0
    assert sorted(tuple(sorted(e)) for e in links.maximum_spanning_tree(two)) == [(0, 1), (1, 2), (3, 4)]


def _two_parts(across: int) -> pycolmap.Reconstruction:
    """A synthetic walk of 10 frames whose first 6 and last 4 share only ``across`` 3D points: every other
    point keeps the observations of one part only."""
    options = pycolmap.SyntheticDatasetOptions(num_rigs=1, num_cameras_per_rig=1, num_frames_per_rig=10,
                                               num_points3D=300)
    pycolmap.set_random_seed(0)
    model = pycolmap.synthesize_dataset(options)
    ids = sorted(model.reg_image_ids())
    first = set(ids[:6])
    for k, point_id in enumerate(sorted(model.points3D)):
        if k < across:
            continue
        keep = first if k % 2 else set(ids) - first
        observed = [(int(e.image_id), int(e.point2D_idx)) for e in model.point3D(point_id).track.elements]
        for image_id, index in observed:
            if image_id not in keep:
                model.delete_observation(image_id, index)
    return model


def test_split_takes_the_smaller_side_of_a_weak_link_out(caplog):
    model = _two_parts(across=10)
    names = sorted(model.image(i).name for i in model.reg_image_ids())
    kept, cut = links.split(model, 40)
    assert [(len(w.images), w.points, w.other_images) for w in cut] == [(4, 10, 6)]
    assert sorted(kept.image(i).name for i in kept.reg_image_ids()) == names[:6]
    assert model.num_reg_images() == 10  # the model given is left as it was
    assert links.find(kept, 40) == ()
    assert links.split(model, 10)[0] is model  # 10 points are not fewer than 10
    assert links.split(model, 0)[0] is model  # 0: off
    assert links.split(_two_parts(across=120), 80)[1] == []
    with pytest.raises(ConfigError, match="split_weak_link_points"):
        SfmOptions(split_weak_link_points=-1)
