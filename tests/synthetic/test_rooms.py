"""Indoor scenes for MVS training: rooms with furniture, weak texture, near and far geometry, hand-held paths."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.synthetic import RoomRig, SceneKind, SceneSpec, build_scene, random_room_scene
from photogrammetry.synthetic.render import Renderer
from photogrammetry.synthetic.rooms import KEEP_OUT, MARGIN, room_views


def _centres(scene) -> np.ndarray:
    return np.array([v.cam_from_world.center for v in scene.views])


def test_random_rooms_are_reproducible_and_varied() -> None:
    specs = [random_room_scene(seed) for seed in range(3000, 3030)]
    assert random_room_scene(3000) == specs[0] and all(s.kind is SceneKind.ROOM and s.shape is None for s in specs)
    assert {s.rig.path for s in specs} == {"walk", "pan", "orbit"}
    assert len({s.rig.size for s in specs}) == len(specs)


@pytest.mark.parametrize("path", ["walk", "pan", "orbit"])
def test_cameras_stay_in_the_room_and_move_by_their_step(path: str) -> None:
    rig = RoomRig(num_views=12, size=(4.0, 3.5, 2.6), path=path, step=0.3, turn_deg=6.0)
    centres = _centres(build_scene(SceneSpec(seed=5, rig=rig)))
    assert np.all(np.abs(centres[:, :2]) <= np.array(rig.size[:2]) / 2 - MARGIN + 1e-9)
    steps = np.linalg.norm(np.diff(centres[:, :2], axis=0), axis=1)
    assert steps.max() <= rig.step * 1.01 + 1e-9 and np.median(steps) > 0.5 * rig.step * (path != "pan")
    with pytest.raises(ValueError, match="path"):
        room_views(RoomRig(path="fly"), np.random.default_rng(0))


def test_furniture_keeps_clear_of_the_cameras_and_rooms_are_closed() -> None:
    for seed in (3000, 3001, 3002):
        scene = build_scene(random_room_scene(seed, width=160, height=120))
        centres = _centres(scene)
        for part in scene.parts:
            if part.name.startswith("furniture"):
                lo, hi = part.mesh.bounds
                gap = np.maximum(np.maximum(lo[:2] - centres[:, :2], centres[:, :2] - hi[:2]), 0.0)
                assert np.sqrt((gap**2).sum(axis=1)).min() >= KEEP_OUT - 1e-6
        depth = Renderer(scene).render(0).depth
        assert (depth > 0).all()  # no sky indoors


def test_rooms_have_near_and_far_geometry_and_weak_texture() -> None:
    ratios, weak = [], 0
    for seed in range(3000, 3008):
        scene = build_scene(random_room_scene(seed, width=160, height=120))
        depth = Renderer(scene).render(0).depth
        ratios.append(np.percentile(depth, 99) / np.percentile(depth, 1))
        weak += sum(p.texture.spot_weight <= 0.15 and p.texture.grain <= 0.12 for p in scene.parts)
    assert max(ratios) > 4.0 and np.median(ratios) > 1.5  # far / near depth (percentiles 99 / 1): 16.8 and 2.0
    assert weak >= 8  # 53 nearly uniform surfaces in these 8 rooms
