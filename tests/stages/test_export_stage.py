"""The export stage on the sample scenes moved into an arbitrary frame: upright, lined up with the photos."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pycolmap
import pytest
from scipy.spatial import cKDTree

from photogrammetry.export.frame import Z_UP_FROM_Y_UP
from photogrammetry.io.export import ExportResult, load_export_result
from photogrammetry.io.jsonio import read_json
from photogrammetry.stages import export
from tests.export.artifacts import context, upstream
from tests.export.scenes import GT_UP, SAMPLES, MovedScene, moved_scene
from tests.io.gltf_check import accessor_array, check_glb, split_glb

UP_BY_SCENE = {"orbit": "auto", "turntable": "turntable", "facade": "auto"}


def glb_vertices(path: Path) -> tuple[np.ndarray, dict]:
    document, binary, _ = split_glb(path.read_bytes())
    attributes = document["meshes"][0]["primitives"][0]["attributes"]
    return accessor_array(document, binary, attributes["POSITION"]).astype(np.float64), document


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0))))


@pytest.fixture(scope="module", params=sorted(UP_BY_SCENE))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[MovedScene, ExportResult, object]:
    scene = moved_scene(request.param, seed=3)
    root = tmp_path_factory.mktemp(request.param)
    inputs = upstream(scene, root)
    config = export.ExportConfig(frame=export.FrameOptions(up=UP_BY_SCENE[request.param]))
    export.run(config, context(root), **inputs.kwargs())
    return scene, load_export_result(root / "export"), inputs


def test_the_gt_up_vector_is_plus_y_in_the_glb(exported: tuple[MovedScene, ExportResult, object]) -> None:
    scene, result, _ = exported
    glb_from_gt = np.asarray(result.info.glb_from_world) @ scene.moved_from_gt
    assert angle_deg(glb_from_gt[:3, :3] @ GT_UP, np.array([0.0, 1.0, 0.0])) < 2.0  # measured < 0.1 deg


def test_the_stored_transform_moves_the_model_onto_the_glb(exported: tuple[MovedScene, ExportResult, object]) -> None:
    scene, result, _ = exported
    vertices, document = glb_vertices(result.path("glb"))
    expected = scene.vertices[np.unique(scene.faces)] @ np.asarray(result.info.glb_from_world)[:3, :3].T + np.asarray(
        result.info.glb_from_world)[:3, 3]
    assert cKDTree(expected).query(vertices)[0].max() < 1e-5  # the GLB's vertices are the model's, moved
    assert cKDTree(vertices).query(expected)[0].max() < 1e-5
    assert check_glb(result.path("glb").read_bytes()) == []
    extras = document["asset"]["extras"]
    assert extras["units"] == "normalised" and extras["up"] == "+Y"
    assert max(np.ptp(vertices, axis=0)) == pytest.approx(1.0, abs=1e-5)  # the largest side is 1 unit
    assert np.allclose((vertices.min(axis=0) + vertices.max(axis=0)) / 2, 0.0, atol=1e-5)  # centred


def test_the_exported_cameras_see_the_model_where_the_photos_do(
        exported: tuple[MovedScene, ExportResult, object]) -> None:
    scene, result, _ = exported
    cameras = pycolmap.Reconstruction(result.path("cameras") / "colmap")
    model_from_gt = np.asarray(result.info.model_from_world) @ scene.moved_from_gt
    for image in scene.gt.images.values():
        points = np.array([scene.gt.points3D[p.point3D_id].xyz for p in image.points2D if p.has_point3D()])
        if len(points) == 0:
            continue
        seen = np.array([p.xy for p in image.points2D if p.has_point3D()])
        ours = cameras.find_image_with_name(image.name)
        moved = points @ model_from_gt[:3, :3].T + model_from_gt[:3, 3]
        pixels = cameras.cameras[ours.camera_id].img_from_cam(
            (moved @ ours.cam_from_world().rotation.matrix().T) + ours.cam_from_world().translation)
        assert np.abs(pixels - seen).max() < 0.01, image.name  # GT points project onto their GT pixels
    transforms = read_json(result.path("cameras") / "transforms.json")
    assert np.allclose(transforms["applied_transform"], np.asarray(result.info.model_from_world)[:3])
    assert len(transforms["frames"]) == len(scene.names)


def test_z_up_puts_the_obj_and_cameras_in_blenders_frame(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    scene = moved_scene("orbit", seed=5, metric=True)
    inputs = upstream(scene, tmp_path, units="metres")
    config = export.ExportConfig(formats=("glb", "ply", "cameras"), frame=export.FrameOptions(up_axis="z",
                                                                                               origin="ground"))
    with caplog.at_level(logging.INFO):
        export.run(config, context(tmp_path), **inputs.kwargs())
    result = load_export_result(tmp_path / "export")
    model_from_gt = np.asarray(result.info.model_from_world) @ scene.moved_from_gt
    assert angle_deg(model_from_gt[:3, :3] @ GT_UP, np.array([0.0, 0.0, 1.0])) < 2.0
    assert np.allclose(result.info.model_from_world, Z_UP_FROM_Y_UP @ np.asarray(result.info.glb_from_world))
    assert result.info.units == "metres" and result.info.scale == pytest.approx(1.0)  # metric: never rescaled
    assert set(result.info.files) == {"glb", "ply", "cameras"} and "metres" in caplog.text
    vertices, _ = glb_vertices(result.path("glb"))
    assert 0.29 < vertices[:, 1].max() < 0.31  # the vase stands on the floor (origin: ground) and is 0.3 m tall
    assert vertices[:, 1].min() == pytest.approx(0.0, abs=0.01)


def test_keeping_sfm_units(tmp_path: Path) -> None:
    scene = moved_scene("facade", seed=2)
    inputs = upstream(scene, tmp_path)
    export.run(export.ExportConfig(formats=("glb",), frame=export.FrameOptions(size=0.0)), context(tmp_path),
               **inputs.kwargs())
    result = load_export_result(tmp_path / "export")
    assert result.info.units == "sfm" and result.info.scale == pytest.approx(1.0)
    _, document = glb_vertices(result.path("glb"))
    assert document["asset"]["extras"]["units"] == "sfm"


def test_the_voxel_grid_holds_the_fused_points_at_the_chosen_size(tmp_path: Path) -> None:
    import open3d as o3d

    scene = moved_scene("orbit", seed=5, metric=True)
    inputs = upstream(scene, tmp_path, units="metres")
    config = export.ExportConfig(formats=("voxels",), voxel_size=0.02)
    export.run(config, context(tmp_path), **inputs.kwargs())
    result = load_export_result(tmp_path / "export")
    grid = o3d.io.read_voxel_grid(str(result.path("voxels")))
    assert grid.voxel_size == pytest.approx(0.02) and grid.has_colors()
    matrix = np.asarray(result.info.model_from_world)
    model_points = scene.points @ matrix[:3, :3].T + matrix[:3, 3]  # the fused cloud moved like the model
    occupied = {tuple(v.grid_index) for v in grid.get_voxels()}
    cells = {tuple(c) for c in np.floor((model_points - grid.origin) / grid.voxel_size).astype(int)}
    assert occupied == cells  # every point's voxel occupied, no voxel without a point
    assert len(occupied) < len(model_points)


@pytest.mark.parametrize("metric", [True, False])
def test_the_nerfstudio_dataset_holds_masks_and_depths_and_survives_a_move(tmp_path: Path, metric: bool) -> None:
    """Read as nerfstudio reads it (paths from the file's folder) after the output folder is moved and the
    cache removed; depths in the transforms' units: metres, or the normalised model's units."""
    import shutil

    from photogrammetry.export.publish import publish
    from photogrammetry.io.masks import read_mask
    from photogrammetry.synthetic import load_depth
    from tests.export.nerfstudio_reader import read_transforms

    scene = moved_scene("orbit", seed=5, metric=metric)
    inputs = upstream(scene, tmp_path, units="metres" if metric else "sfm", maps_of="orbit")
    export.run(export.ExportConfig(formats=("cameras",)), context(tmp_path), **inputs.kwargs())
    publish(tmp_path / "export", tmp_path / "out")
    shutil.move(tmp_path / "out", tmp_path / "moved")
    shutil.rmtree(tmp_path / "ingest")  # the cache cleaned: the moved folder stands alone
    frames = read_transforms(tmp_path / "moved" / "cameras" / "transforms.json")
    assert len(frames) == len(scene.names) and all(f.depth is not None for f in frames)
    assert all(f.mask is not None for f in frames)  # every other image has a mask: the others the whole image
    model_from_gt = np.asarray(load_export_result(tmp_path / "export").info.model_from_world) @ scene.moved_from_gt
    units_per_metre = float(np.cbrt(np.linalg.det(model_from_gt[:3, :3])))
    assert (units_per_metre == pytest.approx(1.0)) == metric
    gt = SAMPLES / "orbit" / "gt"
    for index, (name, frame) in enumerate(zip(scene.names, frames, strict=True)):
        assert frame.image.read_bytes() == f"photo {name}".encode()
        truth = load_depth(gt / "depth" / f"{Path(name).stem}.png", read_json(gt / "scene.json")["depth_scale"])
        truth *= units_per_metre
        both = (truth > 0) & (frame.depth > 0)
        assert both.sum() > 0.9 * (truth > 0).sum()  # nearly every surface pixel has a depth
        assert np.median(np.abs(frame.depth[both] - truth[both]) / truth[both]) < 0.005
        if index % 2:
            assert np.array_equal(frame.mask, read_mask(gt / "masks" / f"{Path(name).stem}.png"))
        else:
            assert frame.mask.all()
