"""The nerfstudio dataset beside the exported cameras when only some images have masks or depth maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.export.nerfstudio import add_frame_files, depth_for_camera
from photogrammetry.io.masks import write_mask
from photogrammetry.sfm.export import transforms_json
from tests.export.nerfstudio_reader import read_transforms
from tests.export.scenes import SAMPLES


def test_frames_without_a_mask_or_depth_get_whole_image_masks_and_zero_depths(tmp_path: Path) -> None:
    model = pycolmap.Reconstruction(SAMPLES / "orbit" / "gt" / "sparse")
    names = sorted(image.name for image in model.images.values())
    camera = next(iter(model.cameras.values()))
    write_mask(tmp_path / "src", names[0], np.eye(camera.height, camera.width, dtype=bool))
    content = transforms_json(model, lambda name: name)
    K = camera.calibration_matrix()
    depth = np.full((camera.height, camera.width), 1.25, np.float32)
    counts = add_frame_files(content, tmp_path / "cameras", model,
                             images=lambda name: SAMPLES / "orbit" / "images" / name,
                             masks=lambda name: tmp_path / "src" / f"masks/{name}.png" if name == names[0] else None,
                             depths={names[1]: lambda: (depth, K)}, depth_scale=2.0)
    (tmp_path / "cameras" / "transforms.json").write_text(json.dumps(content))
    frames = {f.image.name: f for f in read_transforms(tmp_path / "cameras" / "transforms.json")}
    assert counts == {"masks": 1, "depths": 1}
    assert frames[names[0]].mask.sum() == min(camera.width, camera.height)  # its own mask
    assert all(frames[n].mask.all() for n in names[1:])  # the others: the whole image
    assert np.allclose(frames[names[1]].depth, 2.5)  # 1.25 model units x 2
    assert all(not frames[n].depth.any() for n in names if n != names[1])


def test_depths_follow_each_photo_pixels_ray_into_the_pinhole_map() -> None:
    camera = pycolmap.Camera(model="SIMPLE_RADIAL", width=40, height=30, params=[50.0, 20.0, 15.0, -0.2])
    K = np.array([[25.0, 0, 10.0], [0, 25.0, 7.5], [0, 0, 1]])  # a half-size pinhole map
    u, v = np.meshgrid(np.arange(20), np.arange(15))
    depth = (1 + u + 100 * v).astype(np.float32)  # every map pixel its own value
    resampled = depth_for_camera(depth, K, camera)
    for col, row in [(0, 0), (20, 15), (39, 29), (5, 22)]:
        x, y = camera.cam_from_img(np.array([[col + 0.5, row + 0.5]]))[0]
        expected_u, expected_v = int(np.floor(25 * x + 10)), int(np.floor(25 * y + 7.5))
        inside = 0 <= expected_u < 20 and 0 <= expected_v < 15
        assert resampled[row, col] == (depth[expected_v, expected_u] if inside else 0)
