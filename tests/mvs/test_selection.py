"""Source selection and depth ranges from sparse points."""

from __future__ import annotations

import numpy as np

from photogrammetry.mvs.scene import MVSScene
from photogrammetry.mvs.selection import SelectionOptions, angle_score, depth_range, select_sources


def ring_scene(views) -> MVSScene:
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (200, 3))
    return MVSScene(views={v.name: v for v in views}, points=points,
                    observations={v.name: np.arange(200) for v in views})


def test_angle_score_peaks_at_the_best_angle():
    options = SelectionOptions()
    scores = angle_score(np.array([1.0, 5.0, 15.0, 40.0]), options)
    assert scores[1] == 1.0 and scores[0] < 1e-3 and scores[3] < scores[2] < 1.0


def test_neighbours_on_a_ring_come_first(ring_views):
    sources = select_sources(ring_scene(ring_views), SelectionOptions(num_sources=2))
    assert sorted(sources["v0.png"]) == ["v1.png", "v7.png"]
    assert all(len(s) == 2 for s in sources.values())


def test_views_facing_away_are_never_sources(ring_views):
    sources = select_sources(ring_scene(ring_views), SelectionOptions(num_sources=7, max_axis_angle_deg=80))
    assert "v4.png" not in sources["v0.png"]  # opposite side of the ring, 180 degrees


def test_depth_range_brackets_the_points(ring_views):
    scene = ring_scene(ring_views)
    near, far = depth_range(scene, ring_views[0], SelectionOptions(depth_margin=0.0, depth_percentiles=(0, 100)))
    depths = scene.points @ ring_views[0].R[2] + ring_views[0].t[2]
    assert near == np.float64(depths.min()) or abs(near - depths.min()) < 1e-9
    assert abs(far - depths.max()) < 1e-9
    wide = depth_range(scene, ring_views[0], SelectionOptions())
    assert wide[0] < near and wide[1] > far


def test_depth_range_falls_back_to_every_point_in_front(ring_views):
    """A view whose own points all lie behind it (a bad track) is bounded by the points in front of it."""
    scene = ring_scene(ring_views)
    view = ring_views[0]
    behind = np.flatnonzero(scene.points @ view.R[2] + view.t[2] < 0)
    assert len(behind) == 0  # every point of the ring scene is in front: move three behind the camera
    points = scene.points.copy()
    points[:3] = view.center + 2 * (view.center - points[:3])
    moved = MVSScene(views=scene.views, points=points, observations={**scene.observations, view.name: np.arange(3)})
    near, far = depth_range(moved, view, SelectionOptions(depth_margin=0.0, depth_percentiles=(0, 100)))
    depths = points[3:] @ view.R[2] + view.t[2]
    assert abs(near - depths.min()) < 1e-9 and abs(far - depths.max()) < 1e-9


def test_depth_range_is_none_with_nothing_in_front(ring_views):
    scene = ring_scene(ring_views)
    view = ring_views[0]
    behind = view.center + 3 * (view.center - scene.points)  # every point mirrored behind the camera
    assert depth_range(MVSScene(views=scene.views, points=behind, observations=scene.observations), view,
                       SelectionOptions()) is None
