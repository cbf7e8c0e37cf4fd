"""The depth and fusion stages' entry functions on an undistort artifact made from a sample scene."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from photogrammetry.engine.stage import StageContext
from photogrammetry.io.depth import load_depth
from photogrammetry.io.fusion import load_fusion
from photogrammetry.io.undistort import load_undistort, save_undistort
from photogrammetry.mvs.cascade import CascadeOptions
from photogrammetry.stages import depth, fusion
from tests.mvs.conftest import one_torch_thread, sample_scene_dir  # noqa: F401 (fixtures of the MVS tests)

SETTINGS = dict(method="ncc", max_image_size=128, cascade=CascadeOptions(hypotheses=(24, 8)))


@pytest.fixture(scope="module")
def undistorted(sample_scene_dir, tmp_path_factory) -> Path:
    """An undistort artifact folder holding the facade scene: images, PINHOLE model, undistort.json
    (which says metres, to see the units passed on)."""
    scene = sample_scene_dir("facade")
    folder = tmp_path_factory.mktemp("undistort")
    shutil.copytree(scene / "images", folder / "images")
    shutil.copytree(scene / "gt" / "sparse", folder / "sparse")
    save_undistort(folder, tuple(sorted(p.name for p in (folder / "images").iterdir())), units="metres")
    return folder


def context(tmp_path: Path, name: str) -> StageContext:
    out = tmp_path / name
    out.mkdir()
    return StageContext(name=name, out=out, photos=tmp_path, device_request="cpu", progress=False)


@pytest.fixture(scope="module")
def depth_artifact(undistorted, tmp_path_factory):
    ctx = context(tmp_path_factory.mktemp("ws"), "depth")
    counts = depth.run(depth.DepthConfig(**SETTINGS), ctx, undistort=load_undistort(undistorted))
    return counts, load_depth(ctx.out)


def test_depth_stage_writes_every_view(depth_artifact):
    counts, result = depth_artifact
    assert counts["views"] == 12 and counts["masked"] == 0 and 0.3 < counts["mean_kept"] <= 1
    for label, rel in depth.STAGE.outputs.items():
        assert (result.root / rel).is_dir(), label
    assert all(result.depth_path(v.name).is_file() for v in result.summary.views)
    assert result.summary.views[0].width == 128 and len(result.summary.views[0].sources) == 5
    assert result.summary.units == "metres"  # the undistort artifact's


@pytest.mark.parametrize("method", ["points", "tsdf"])
def test_fusion_stage_writes_a_coloured_cloud_with_normals(depth_artifact, tmp_path, method):
    _, result = depth_artifact
    ctx = context(tmp_path, "fusion")
    counts = fusion.run(fusion.FusionConfig(method=method), ctx, depth=result)
    loaded = load_fusion(ctx.out)
    cloud = o3d.io.read_point_cloud(str(ctx.out / fusion.STAGE.outputs["fused_points"]))
    assert len(cloud.points) == counts["points"] == loaded.summary.points > 1000
    assert cloud.has_colors() and cloud.has_normals()
    assert np.allclose(np.linalg.norm(np.asarray(cloud.normals), axis=1), 1, atol=1e-3)
    assert (loaded.mesh is not None) == (method == "tsdf") and (counts["triangles"] > 0) == (method == "tsdf")
    assert loaded.units == "metres"  # the depth artifact's


def test_the_weights_of_learned_methods_enter_the_key():
    assert depth.fingerprint(depth.DepthConfig(method="ncc"), Path()) == {"weights": {}}
    assert "sha256" in depth.fingerprint(depth.DepthConfig(method="lite"), Path())["weights"]


def test_depth_stage_writes_a_colmap_workspace_colmap_fuses(depth_artifact, tmp_path):
    """``colmap/`` holds our maps as COLMAP's arrays, and COLMAP's own fusion reads the workspace."""
    import pycolmap

    from photogrammetry.io import colmap_dense

    _, result = depth_artifact
    workspace = result.root / depth.STAGE.outputs["colmap_workspace"]
    assert (workspace / "images").is_symlink() and any((workspace / "sparse").glob("cameras.*"))
    for view in result.summary.views[:3]:
        read = pycolmap.DepthMap()
        read.read(colmap_dense.depth_map_path(workspace, view.name))
        assert np.array_equal(read.to_array(), np.load(result.depth_path(view.name)))
        normals = colmap_dense.read_array(colmap_dense.normal_map_path(workspace, view.name))
        assert np.array_equal(normals, np.load(result.normal_path(view.name)).astype(np.float32))
    fused = pycolmap.stereo_fusion(tmp_path, workspace, input_type="geometric",
                                   options=pycolmap.StereoFusionOptions(min_num_pixels=3, num_threads=1))
    assert fused.num_points3D() > 1000


def test_fused_points_list_the_views_that_saw_them_as_colmap_does(depth_artifact, tmp_path):
    """``fused.ply.vis``: each point lies on the depth maps of the views it names (COLMAP's MVS indices)."""
    import pycolmap

    from photogrammetry.io import colmap_dense

    _, original = depth_artifact
    shutil.copytree(original.root, tmp_path / "depth")  # with the first view's depths removed
    result = load_depth(tmp_path / "depth")
    left_out = result.summary.views[0].name
    np.save(result.depth_path(left_out), np.zeros_like(np.load(result.depth_path(left_out))))
    ctx = context(tmp_path, "fusion")
    fusion.run(fusion.FusionConfig(), ctx, depth=result)
    points = np.asarray(o3d.io.read_point_cloud(str(ctx.out / "fused.ply")).points)
    seen = colmap_dense.read_visibility(ctx.out / "fused.ply.vis")
    assert len(seen) == len(points) and all(len(v) >= 1 for v in seen)
    assert np.mean([len(v) for v in seen]) > 1.5  # surfaces seen by several views merge
    model = pycolmap.MVSModel()
    model.read_from_colmap(result.root / "colmap")
    named = set(np.concatenate(seen).tolist())
    assert model.get_image_idx(left_out) not in named and len(named) == len(result.summary.views) - 1
    by_name = {v.name: v for v in result.summary.views}
    rng = np.random.default_rng(0)
    errors = []
    for i in rng.choice(len(points), 200, replace=False):
        for index in seen[i]:
            view = by_name[model.get_image_name(int(index))]
            cam = np.array(view.R) @ points[i] + np.array(view.t)
            u, v = (np.array(view.K) @ cam)[:2] / cam[2]
            depth_map = np.load(result.depth_path(view.name))
            measured = depth_map[min(int(v), view.height - 1), min(int(u), view.width - 1)]
            errors.append(abs(measured - cam[2]) / cam[2] if measured > 0 else 1.0)
    assert np.median(errors) < 0.01  # the named views do see the point there


def test_colmaps_poisson_mesher_reads_the_fused_cloud(depth_artifact, tmp_path):
    """With trim 0: COLMAP's default trim (10) left no vertex of this small merged cloud (measured)."""
    import pycolmap

    _, result = depth_artifact
    ctx = context(tmp_path, "fusion")
    fusion.run(fusion.FusionConfig(), ctx, depth=result)
    pycolmap.poisson_meshing(ctx.out / "fused.ply", tmp_path / "meshed.ply",
                             pycolmap.PoissonMeshingOptions(depth=7, trim=0, num_threads=1))
    assert len(o3d.io.read_triangle_mesh(str(tmp_path / "meshed.ply")).triangles) > 100
