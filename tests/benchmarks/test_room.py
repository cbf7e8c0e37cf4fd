"""The room benchmark's helpers: frames held out of the input, a mesh aligned and rendered from them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import open3d as o3d

from benchmarks.room import score_room
from benchmarks.sets import split_frames
from photogrammetry.evaluation.raycast import MeshRaycaster
from tests.evaluation.synthetic import random_sim3, write_colmap_model, write_scene


def test_held_out_frames_are_never_inputs() -> None:
    inputs, held = split_frames(60, 20)
    assert held == [15, 30, 44] and len(inputs) == 20 == len(set(inputs))
    assert inputs[0] == 0 and inputs[-1] == 59 and not set(inputs) & set(held)
    assert max(np.diff(inputs)) <= 4


def test_mesh_in_our_frame_renders_the_held_out_photos(tmp_path: Path) -> None:
    """A coloured mesh and cameras moved by a similarity (as SfM's frame is) are aligned back by the
    cameras of the input views and rendered from two held-out views: their photos and depths again."""
    synthetic = write_scene(tmp_path)
    gt, held = synthetic.gt, synthetic.gt.names[2:9:5]
    ours = random_sim3().inverse()
    views = {n: v for n, v in gt.views.items() if n not in held}
    moved = {n: type(v)(name=n, camera=v.camera, pose=ours.apply_to_pose(v.pose)) for n, v in views.items()}
    write_colmap_model(moved, tmp_path / "model")
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(ours.apply(synthetic.vertices)),
                                     o3d.utility.Vector3iVector(synthetic.faces))
    mesh.vertex_colors = o3d.utility.Vector3dVector(synthetic.colors.astype(np.float64))
    o3d.io.write_triangle_mesh(str(tmp_path / "mesh.ply"), mesh)
    (tmp_path / "out").mkdir()

    scores, note = score_room(gt, held, tmp_path / "model", tmp_path / "mesh.ply", tmp_path / "out")

    raycaster = MeshRaycaster([(synthetic.vertices, synthetic.faces)])
    assert [s.name for s in scores] == held and "8 cameras registered" in note
    for score in scores:
        hit = raycaster.cast(gt.views[score.name].camera, gt.views[score.name].pose).hit
        assert abs(score.covered - hit.mean()) < 0.01 and score.covered > 0.3
        assert score.psnr > 35 and score.depth_within_5 > 0.99 and score.depth_median_error < 0.002
        assert score.sensor_given_5 > 0.95
        picture = cv2.imread(str(tmp_path / "out" / f"{Path(score.name).stem}.png"))
        assert picture.shape == (gt.views[score.name].camera.height, 3 * gt.views[score.name].camera.width, 3)
