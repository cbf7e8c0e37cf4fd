"""Ground-truth loaders: sample scenes, COLMAP, Middlebury, Strecha, RGB-D sequences (real files when present)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2

import numpy as np
import pytest

from photogrammetry.evaluation.ground_truth import GroundTruthFormatError
from photogrammetry.evaluation.loaders import detect_format, load_ground_truth, load_middlebury
from photogrammetry.evaluation.pose_metrics import evaluate_poses
from photogrammetry.evaluation.raycast import gt_depth_map

from .synthetic import Synthetic, random_sim3, write_colmap_model

STRECHA_K = np.array([[2759.48, 0, 1520.69], [0, 2764.16, 1006.81], [0, 0, 1]])


def _assert_same_views(loaded, expected) -> None:
    assert loaded.names == expected.names
    for name in expected.names:
        a, b = loaded.views[name], expected.views[name]
        np.testing.assert_allclose(a.camera.K, b.camera.K, atol=1e-9)
        np.testing.assert_allclose(a.pose.matrix, b.pose.matrix, atol=1e-9)
        assert (a.camera.width, a.camera.height) == (b.camera.width, b.camera.height)


def test_sample_scene(sample_scene: Path, synthetic: Synthetic) -> None:
    gt = load_ground_truth(sample_scene)
    _assert_same_views(gt, synthetic.gt)
    assert gt.kind == "turntable" and gt.depth_scale == 1e-3
    assert gt.extent == pytest.approx(synthetic.gt.extent)
    assert gt.scene_mesh_path == sample_scene / "gt" / "scene_mesh.ply" and gt.object_mesh_path is None
    np.testing.assert_allclose(gt.object_bbox, [[-1, -1, -1], [1, 1, 1]])
    view = gt.views[gt.names[0]]
    assert view.image_path.is_file() and view.depth_path.is_file() and view.mask_path.is_file()
    assert view.normal_path.is_file()
    from_png = gt_depth_map(gt, view.name)
    rendered = gt_depth_map(synthetic.gt, view.name)  # no PNG there: ray cast
    np.testing.assert_allclose(from_png, rendered, atol=1e-3)
    assert detect_format(sample_scene / "gt") == ("sample_scene", sample_scene)


def test_sample_scene_json_variants(sample_scene: Path, tmp_path: Path) -> None:
    scene = shutil.copytree(sample_scene, tmp_path / "scene")
    meta = scene / "gt" / "scene.json"
    meta.write_text('{"depth_scale": 0.01, "extent": 3.0, "object_bbox": [[0, 0, 0], [1, 2, 3]]}', encoding="utf-8")
    gt = load_ground_truth(scene)
    assert gt.extent == 3.0 and gt.kind == "sample_scene"
    np.testing.assert_allclose(gt.object_bbox, [[0, 0, 0], [1, 2, 3]])
    meta.write_text('{"depth_scale": 0.01, "object_bbox_min": null, "object_bbox_max": null}', encoding="utf-8")
    gt = load_ground_truth(scene)
    assert gt.object_bbox is None and gt.extent == pytest.approx(np.linalg.norm([4.0, 4.0, 2.1]))  # from the mesh
    meta.write_text('{"kind": "object"}', encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match="depth_scale"):
        load_ground_truth(scene)
    meta.write_text("{not json", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match="scene.json: cannot read"):
        load_ground_truth(scene)


@pytest.mark.parametrize("binary", [False, True])
def test_colmap_model(synthetic: Synthetic, tmp_path: Path, binary: bool) -> None:
    write_colmap_model(dict(synthetic.gt.views), tmp_path / "sparse" / "0", binary=binary)
    for path in (tmp_path, tmp_path / "sparse" / "0"):
        gt = load_ground_truth(path, images_dir=synthetic.folder / "images")
        _assert_same_views(gt, synthetic.gt)
        assert gt.kind == "colmap" and gt.views[gt.names[0]].image_path.is_file()


def test_unknown_or_missing_paths_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(GroundTruthFormatError, match="not found"):
        load_ground_truth(tmp_path / "nope")
    with pytest.raises(GroundTruthFormatError, match="unknown ground-truth format"):
        load_ground_truth(tmp_path)


def test_malformed_middlebury_names_file_and_line(tmp_path: Path) -> None:
    par = tmp_path / "x_par.txt"
    par.write_text("2\na.png 1 0 0 0 1 0 0 0 1 1 0 0 0 1 0 0 0 1 0 0 1\nb.png 1 2 3\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"x_par.txt: line 3: expected 21 numbers"):
        load_middlebury(par, image_size=(64, 48))
    with pytest.raises(GroundTruthFormatError, match=r"x_par.txt: size of image 'a.png' unknown"):
        load_ground_truth(tmp_path)  # no images next to it
    par.write_text("3\na.png 1 0 0 0 1 0 0 0 1 1 0 0 0 1 0 0 0 1 0 0 1\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match="header says 3 images, found 1"):
        load_ground_truth(par)
    par.write_text("1\na.png 1 0 0 0 1 0 0 0 1 1 0 0 0 2 0 0 0 1 0 0 1\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match="line 2: matrix is not a rotation"):
        load_middlebury(par, image_size=(64, 48))


def test_malformed_strecha_names_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg.camera").write_text("1 0 0\n0 1 0\n0 0 1\n0 0 0\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"a.jpg.camera: expected 9 lines"):
        load_ground_truth(tmp_path)


def test_middlebury_temple(shared_data: Path) -> None:
    gt = load_ground_truth(shared_data / "middlebury_templeSparseRing")
    assert gt.kind == "middlebury" and len(gt.views) == 16
    view = gt.views["templeSR0001.png"]
    np.testing.assert_allclose(view.camera.K, [[1520.4, 0, 302.32], [0, 1525.9, 246.87], [0, 0, 1]])
    assert (view.camera.width, view.camera.height) == (640, 480)
    assert gt.extent == pytest.approx(np.linalg.norm(gt.object_bbox[1] - gt.object_bbox[0]))
    distances = np.linalg.norm(gt.centers() - gt.object_bbox.mean(axis=0), axis=1)
    assert distances.max() - distances.min() < 0.05 * distances.mean()  # a ring around the object
    for name in gt.names:  # the object's centre projects into every image
        v = gt.views[name]
        x = v.camera.K @ (v.pose.R @ gt.object_bbox.mean(axis=0) + v.pose.t)
        assert 0 < x[0] / x[2] < 640 and 0 < x[1] / x[2] < 480 and x[2] > 0
    metrics = evaluate_poses({n: v.pose for n, v in gt.views.items()}, gt)
    assert all(v == pytest.approx(1.0, abs=1e-5) for v in metrics.auc.values())


def test_strecha_fountain(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "strecha_fountain-P11"
    gt = load_ground_truth(root)
    assert gt.kind == "strecha" and len(gt.views) == 11
    view = gt.views["0000.jpg"]
    np.testing.assert_allclose(view.camera.K, np.diag([1 / 3, 1 / 3, 1]) @ STRECHA_K, rtol=1e-4)
    assert (view.camera.width, view.camera.height) == (1024, 682)
    np.testing.assert_allclose(view.pose.center, [-7.28137, -7.57667, 0.204446])
    metrics = evaluate_poses({n: v.pose for n, v in gt.views.items()}, gt)
    assert all(v == pytest.approx(1.0, abs=1e-5) for v in metrics.auc.values())
    with pytest.raises(GroundTruthFormatError, match="scale 0.5 given"):
        load_ground_truth(root, scale=0.5)
    cameras_only = shutil.copytree(root / "gt" / "cameras", tmp_path / "cameras")
    scaled = load_ground_truth(cameras_only, scale=1 / 3)
    np.testing.assert_allclose(scaled.views["0000.jpg"].camera.K, view.camera.K)
    assert (scaled.views["0000.jpg"].camera.width, scaled.views["0000.jpg"].camera.height) == (1024, 682)
    full = load_ground_truth(cameras_only)
    np.testing.assert_allclose(full.views["0000.jpg"].camera.K, STRECHA_K)


def write_rgbd(synthetic: Synthetic, gt_depths: dict[str, np.ndarray], folder: Path) -> Path:
    """The synthetic scene in the RGB-D sequence layout: OpenCV K, camera-to-world poses, depth in mm."""
    (folder / "gt" / "cams").mkdir(parents=True)
    (folder / "gt" / "depth").mkdir()
    shutil.copytree(synthetic.folder / "images", folder / "images")
    K = synthetic.gt.views[synthetic.gt.names[0]].camera.K - np.array([[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])
    np.savetxt(folder / "gt" / "cams" / "K.txt", K, fmt="%.12g")
    lines = ["# image  camera-to-world 4x4, row-major"]
    for name in reversed(synthetic.gt.names):  # file order is not name order
        world_from_cam = np.linalg.inv(synthetic.gt.views[name].pose.matrix)
        lines.append(name + " " + " ".join(f"{x:.12g}" for x in world_from_cam.ravel()))
        cv2.imwrite(str(folder / "gt" / "depth" / name), np.round(gt_depths[name] * 1000).astype(np.uint16))
    (folder / "gt" / "cams" / "poses_c2w.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_rgbd_sequence(synthetic: Synthetic, gt_depths: dict[str, np.ndarray], tmp_path: Path) -> None:
    folder = write_rgbd(synthetic, gt_depths, tmp_path / "set")
    for path in (folder, folder / "gt", folder / "gt" / "cams", folder / "gt" / "cams" / "poses_c2w.txt"):
        assert detect_format(path) == ("rgbd", folder)
    gt = load_ground_truth(folder)
    assert gt.kind == "rgbd" and gt.depth_scale == 1e-3
    _assert_same_views(gt, synthetic.gt)  # K back in the COLMAP convention, poses inverted
    name = gt.names[1]
    assert gt.views[name].image_path == folder / "images" / name
    depth = gt_depth_map(gt, name)
    np.testing.assert_allclose(depth, gt_depths[name], atol=5.1e-4)  # millimetre rounding
    assert depth.max() > 0 and gt.extent == pytest.approx(synthetic.gt.extent, rel=0.3)  # from the sensor points
    sim = random_sim3()
    moved = {n: sim.inverse().apply_to_pose(v.pose) for n, v in gt.views.items()}
    metrics = evaluate_poses(moved, gt)  # poses in another frame are aligned back
    assert metrics.alignment.scale == pytest.approx(sim.scale) and metrics.center_error_median < 1e-6


def test_malformed_rgbd_names_file_and_line(synthetic: Synthetic, gt_depths: dict[str, np.ndarray],
                                            tmp_path: Path) -> None:
    folder = write_rgbd(synthetic, gt_depths, tmp_path / "set")
    poses = folder / "gt" / "cams" / "poses_c2w.txt"
    good = poses.read_text(encoding="utf-8").splitlines()
    poses.write_text("\n".join([*good[:2], good[2].rsplit(" ", 1)[0] + " 2"]), encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"poses_c2w.txt: line 3: last row must be 0 0 0 1"):
        load_ground_truth(folder)
    poses.write_text("\n".join([*good[:2], good[1]]), encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"line 3: image .* given twice"):
        load_ground_truth(folder)
    poses.write_text("a.png 1 2 3\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"line 1: expected 16 numbers"):
        load_ground_truth(folder)
    poses.write_text("a.png 2 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"line 1: matrix is not a rotation"):
        load_ground_truth(folder)
    poses.write_text("a.png 1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"neither the photo nor the depth map of 'a.png'"):
        load_ground_truth(folder)
    (folder / "gt" / "cams" / "K.txt").write_text("1 0 0\n0 1 0\n", encoding="utf-8")
    with pytest.raises(GroundTruthFormatError, match=r"K.txt: expected 3 rows of K"):
        load_ground_truth(folder)


def test_office_set(shared_data: Path) -> None:
    gt = load_ground_truth(shared_data / "deepvideomvs_hololens_office")
    assert gt.kind == "rgbd" and len(gt.views) == 60
    view = gt.views["00150.png"]
    np.testing.assert_allclose(view.camera.K, [[495.567757, 0, 270.0028972], [0, 495.4819626, 169.6941121],
                                               [0, 0, 1]])
    assert (view.camera.width, view.camera.height) == (540, 360)
    np.testing.assert_allclose(view.pose.center, [-3.85502, 0.159878, -0.362007])
    depth = gt_depth_map(gt, "00150.png")
    assert 0.3 < np.median(depth[depth > 0]) < 10  # metres
    assert 3 < gt.extent < 30  # a room, in metres
