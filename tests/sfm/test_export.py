"""Exports of the sfm artifact: COLMAP binary and text, PLY points, nerfstudio transforms.json."""

from __future__ import annotations

import json

import numpy as np
import pycolmap
import pytest

from photogrammetry.sfm.export import OPENGL_FROM_OPENCV, camera_intrinsics


@pytest.fixture(scope="module")
def model(synthetic_sfm) -> pycolmap.Reconstruction:
    return pycolmap.Reconstruction(synthetic_sfm.model)


def test_binary_and_text_models_agree(synthetic_sfm, model):
    text = pycolmap.Reconstruction(synthetic_sfm.root / "model_text")
    assert (synthetic_sfm.model / "images.bin").is_file() and (synthetic_sfm.root / "model_text/images.txt").is_file()
    assert text.num_reg_images() == model.num_reg_images() and text.num_points3D() == model.num_points3D()
    for image_id in model.reg_image_ids():
        a, b = model.image(image_id).cam_from_world(), text.image(image_id).cam_from_world()
        np.testing.assert_allclose(a.matrix(), b.matrix(), atol=1e-9)


def test_all_models_are_kept_and_the_first_is_the_chosen_one(synthetic_sfm, model):
    first = pycolmap.Reconstruction(synthetic_sfm.models[0])
    assert first.num_reg_images() == model.num_reg_images() == synthetic_sfm.summary.models[0].num_images


def test_ply_holds_the_sparse_points(synthetic_sfm, model):
    points = pycolmap.Reconstruction()
    points.import_PLY(synthetic_sfm.root / "points.ply")
    xyz = np.stack([p.xyz for p in points.points3D.values()])
    expected = np.stack([p.xyz for p in model.points3D.values()])
    assert len(xyz) == len(expected) > 100
    np.testing.assert_allclose(np.sort(xyz, axis=0), np.sort(expected, axis=0), atol=1e-4)


def test_transforms_json_matches_the_model(synthetic_sfm, model):
    data = json.loads((synthetic_sfm.root / "transforms.json").read_text())
    assert len(data["frames"]) == model.num_reg_images()
    camera = next(iter(model.cameras.values()))
    assert data["fl_x"] == pytest.approx(camera.focal_length) and data["camera_model"] == "OPENCV"
    assert data["k1"] == pytest.approx(camera.params[3])
    for frame in data["frames"]:
        image = model.image(frame["colmap_im_id"])
        assert frame["file_path"].endswith(image.name)
        cam_from_world = np.linalg.inv(np.asarray(frame["transform_matrix"]) @ OPENGL_FROM_OPENCV)
        np.testing.assert_allclose(cam_from_world[:3], image.cam_from_world().matrix(), atol=1e-9)


def test_transforms_json_poses_project_points_onto_their_observations(synthetic_sfm, model):
    """A 3D point moved into a frame's OpenGL camera and back to OpenCV axes lands on its keypoint."""
    data = json.loads((synthetic_sfm.root / "transforms.json").read_text())
    for frame in data["frames"][:3]:
        image = model.image(frame["colmap_im_id"])
        world_to_gl = np.linalg.inv(np.asarray(frame["transform_matrix"]))
        observed = [p for p in image.points2D if p.has_point3D()][:20]
        assert observed
        for p2d in observed:
            x, y, z = (world_to_gl @ np.append(model.points3D[p2d.point3D_id].xyz, 1.0))[:3]
            assert z < 0  # OpenGL cameras look down -z
            pixel = model.cameras[image.camera_id].img_from_cam(np.array([[x, -y, -z]]))[0]
            assert np.hypot(*(pixel - p2d.xy)) < 3.0


def test_intrinsics_of_each_camera_model():
    for model, params, expected in [
        ("PINHOLE", [500.0, 510.0, 320.0, 240.0], (500.0, 510.0, 320.0, 240.0, 0.0)),
        ("SIMPLE_RADIAL", [500.0, 320.0, 240.0, 0.1], (500.0, 500.0, 320.0, 240.0, 0.1)),
        ("OPENCV", [500.0, 510.0, 320.0, 240.0, 0.1, 0.2, 0.01, 0.02], (500.0, 510.0, 320.0, 240.0, 0.1)),
    ]:
        camera = pycolmap.Camera.create_from_model_name(1, model, 1.0, 640, 480)
        camera.params = params
        k = camera_intrinsics(camera)
        assert (k["fl_x"], k["fl_y"], k["cx"], k["cy"], k["k1"]) == pytest.approx(expected)
        assert (k["w"], k["h"]) == (640, 480)


@pytest.mark.parametrize("every", [1, 3])
def test_transforms_json_names_the_masks_when_every_image_has_one(tmp_path, every):
    from pathlib import Path

    from photogrammetry.sfm.export import export_model
    from tests.export.nerfstudio_reader import read_transforms

    scene = Path(__file__).resolve().parents[2] / "sample_scenes" / "orbit"
    model = pycolmap.Reconstruction(scene / "gt" / "sparse")
    names = sorted(image.name for image in model.images.values())
    masked = set(names[::every])
    out = tmp_path / "ws" / "sfm" / "key"
    out.mkdir(parents=True)
    export_model(model, out, lambda name: scene / "images" / name,
                 lambda name: scene / "gt" / "masks" / f"{Path(name).stem}.png" if name in masked else None)
    frames = read_transforms(out / "transforms.json")  # reads every image and mask it names
    assert sorted(f.image.name for f in frames if f.mask is not None) == (names if every == 1 else [])
    assert all(f.mask.any() and not f.mask.all() for f in frames if f.mask is not None)
