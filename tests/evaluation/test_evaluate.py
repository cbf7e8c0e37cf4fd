"""End to end: ``evaluate`` on a perfect and on a degraded estimate; the report's dict and table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from photogrammetry.evaluation import Estimate, EvalConfig, evaluate, load_ground_truth
from photogrammetry.evaluation.geometry_metrics import GeometryEvalConfig, sample_surface

from .synthetic import Synthetic, random_sim3, sphere_mesh

CONFIG = EvalConfig(geometry=GeometryEvalConfig(max_points=200_000, gt_samples=100_000))


def _write_mesh(path: Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> Path:
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(faces))
    if colors is not None:
        mesh.vertex_colors = o3d.utility.Vector3dVector(colors.astype(np.float64))
    o3d.io.write_triangle_mesh(str(path), mesh)
    return path


def _estimate(synthetic: Synthetic, gt_depths: dict, folder: Path, holdout: list[str]) -> Estimate:
    """A perfect reconstruction of the synthetic scene, in another frame and scale."""
    sim = random_sim3()
    points = o3d.geometry.PointCloud(
        o3d.utility.Vector3dVector(sim.apply(sample_surface(synthetic.vertices, synthetic.faces, 200_000, seed=11)))
    )
    o3d.io.write_point_cloud(str(folder / "points.ply"), points)
    moved = sim.apply(synthetic.vertices)
    return Estimate(
        cameras={n: sim.apply_to_pose(v.pose) for n, v in synthetic.gt.views.items() if n not in holdout},
        depth_maps={n: d * sim.scale for n, d in gt_depths.items() if n not in holdout},
        points_path=folder / "points.ply",
        mesh_path=_write_mesh(folder / "mesh.ply", moved, synthetic.faces),
        textured_mesh_path=_write_mesh(folder / "textured.ply", moved, synthetic.faces, synthetic.colors),
    )


@pytest.fixture(scope="module")
def perfect(synthetic: Synthetic, gt_depths: dict, sample_scene: Path, tmp_path_factory: pytest.TempPathFactory):
    holdout = synthetic.gt.names[-2:]
    estimate = _estimate(synthetic, gt_depths, tmp_path_factory.mktemp("estimate"), holdout)
    return evaluate(estimate, load_ground_truth(sample_scene), holdout=holdout, config=CONFIG)


def test_perfect_reconstruction_scores_perfectly(perfect) -> None:
    assert perfect.poses.registered_fraction == 1.0 and perfect.poses.num_gt_images == 8
    assert all(v == pytest.approx(1.0, abs=1e-5) for v in perfect.poses.auc.values())
    assert perfect.poses.rotation_error_median_deg < 1e-5 and perfect.poses.center_error_median < 1e-8
    assert perfect.depth.num_views == 8
    assert all(v == pytest.approx(1.0) for v in perfect.depth.within.values())
    assert perfect.depth.completeness == pytest.approx(1.0)
    for geometry in (perfect.points, perfect.mesh):
        assert all(v == pytest.approx(1.0, abs=1e-3) for v in geometry.fscore.values())
    assert perfect.texture.num_views == 2  # the held-out views
    assert perfect.texture.psnr > 40.0 and perfect.texture.ssim > 0.98


def test_report_dict_is_strict_json_with_stable_keys(perfect) -> None:
    data = json.loads(json.dumps(perfect.to_dict(), allow_nan=False))
    assert sorted(data) == ["depth", "extent", "gt_kind", "holdout", "mesh", "points", "poses", "texture"]
    assert sorted(data["poses"]["auc"]) == ["10deg", "1deg", "2deg", "5deg"]
    assert sorted(data["depth"]["within"]) == ["0.5%", "1%", "2%"]
    assert sorted(data["points"]["fscore"]) == ["0.5%", "1%", "2%"]
    assert len(data["poses"]["per_image"]) == 8 and len(data["texture"]["per_view"]) == 2


def test_table_lists_every_section(perfect) -> None:
    table = perfect.format_table()
    for text in (
        "registered",
        "8/8",
        "AUC @ 1/2/5/10 deg",
        "within 0.5/1/2 % of extent",
        "F-score @ 0.5/1/2 % of scene extent 6.034",
        "PSNR / SSIM (2 views)",
    ):
        assert text in table
    assert table.count("points") == 5 and table.count("mesh  ") == 5


def test_degraded_reconstruction_scores_lower(synthetic: Synthetic, gt_depths: dict, tmp_path: Path) -> None:
    estimate = _estimate(synthetic, gt_depths, tmp_path, synthetic.gt.names[:3])
    estimate = Estimate(
        cameras=estimate.cameras,
        depth_maps={n: d * 1.05 for n, d in estimate.depth_maps.items()},
        points_path=estimate.points_path,
    )
    report = evaluate(estimate, synthetic.gt, config=CONFIG)
    assert report.poses.registered_fraction == pytest.approx(0.7)
    assert report.poses.auc[1.0] == pytest.approx(21 / 45, abs=1e-4)
    assert report.depth.within[0.01] < 0.2
    assert report.mesh is None and report.texture is None
    assert json.dumps(report.to_dict(), allow_nan=False)


def test_empty_estimate_and_bad_holdout(synthetic: Synthetic) -> None:
    report = evaluate(Estimate(), synthetic.gt)
    assert report.to_dict()["poses"] is None
    assert "no estimate inputs" in report.format_table()
    with pytest.raises(ValueError, match="not in the ground truth"):
        evaluate(Estimate(), synthetic.gt, holdout=["nope.png"])


def test_object_scenes_use_the_object_mesh_and_extent(synthetic: Synthetic, sample_scene: Path, tmp_path: Path) -> None:
    scene = shutil.copytree(sample_scene, tmp_path / "scene")
    sphere_vertices, sphere_faces = sphere_mesh()
    _write_mesh(scene / "gt" / "object_mesh.ply", sphere_vertices, sphere_faces)
    sim = random_sim3()
    sphere_points = sample_surface(sphere_vertices, sphere_faces, 100_000, seed=2)
    scene_points = sample_surface(synthetic.vertices, synthetic.faces, 200_000, seed=2)
    floaters = np.random.default_rng(0).uniform(-1.0, 1.0, (60_000, 3))  # in the sphere's box, off its surface
    floating = np.concatenate([scene_points, floaters])
    for name, points in (("sphere", sphere_points), ("scene", scene_points), ("floating", floating)):
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(sim.apply(points)))
        o3d.io.write_point_cloud(str(tmp_path / f"{name}.ply"), cloud)
    gt = load_ground_truth(scene)
    sphere = evaluate(Estimate(points_path=tmp_path / "sphere.ply", to_gt=sim.inverse()), gt, config=CONFIG).points
    assert sphere.target == "object" and sphere.extent == pytest.approx(2 * np.sqrt(3), rel=1e-2)
    assert all(v == pytest.approx(1.0, abs=1e-3) for v in sphere.fscore.values())
    cluttered = evaluate(Estimate(points_path=tmp_path / "scene.ply", to_gt=sim.inverse()), gt, config=CONFIG).points
    assert cluttered.recall[0.01] == pytest.approx(1.0, abs=1e-3)
    assert cluttered.precision[0.01] == 1.0  # the floor under the object is real surface, not an error
    floating = evaluate(Estimate(points_path=tmp_path / "floating.ply", to_gt=sim.inverse()), gt, config=CONFIG).points
    assert floating.precision[0.01] < 0.8
