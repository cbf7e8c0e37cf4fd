"""Warping, box filter and normals against closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from photogrammetry.mvs.geometry import (backproject, box_filter, normals_from_depth, pixel_grid, project,
                                         relative_projection, sample)

from .conftest import plane_depth


def test_projection_lands_where_the_world_point_projects(ring_views):
    ref, src = ring_views[0], ring_views[1]
    depth = plane_depth(ref, [0, 0, 1], 0.0)
    A, b = (torch.tensor(m, dtype=torch.float32) for m in relative_projection(ref, src))
    pixels = pixel_grid(ref.height, ref.width)
    uv, z = project(A, b, pixels, torch.from_numpy(depth).reshape(1, -1))
    world = (backproject(depth, ref.K).reshape(-1, 3) - ref.t) @ ref.R
    cam = world @ src.R.T + src.t
    expected = cam[:, :2] / cam[:, 2:] * [src.K[0, 0], src.K[1, 1]] + src.K[:2, 2]
    valid = depth.reshape(-1) > 0
    assert np.abs(uv[0].numpy()[valid] - expected[valid]).max() < 1e-3
    assert np.allclose(z[0].numpy()[valid], cam[valid, 2], rtol=1e-5)


def test_sample_reads_pixel_centres_exactly():
    feature = torch.arange(12.0).reshape(1, 3, 4)
    uv = torch.tensor([[[0.5, 0.5], [3.5, 2.5], [2.0, 1.5], [4.5, 0.5]]])
    values, inside = sample(feature, uv)
    assert values[0, 0].tolist() == pytest.approx([0.0, 11.0, 5.5, 0.0], abs=1e-5)
    assert inside[0].tolist() == [True, True, True, False]


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_box_filter_matches_average_pooling(radius):
    x = torch.randn(3, 2, 17, 23)
    expected = F.avg_pool2d(x.reshape(-1, 1, 17, 23), 2 * radius + 1, 1, radius, count_include_pad=False)
    assert torch.allclose(box_filter(x, radius), expected.reshape(x.shape), atol=1e-5)  # OpenCV's path
    assert torch.allclose(box_filter(x.double(), radius), expected.reshape(x.shape).double(), atol=1e-5)  # sums
    trained = x.clone().requires_grad_()
    box_filter(trained, radius).sum().backward()  # training keeps torch's path, with gradients
    assert trained.grad is not None and trained.grad.abs().sum() > 0


def test_normals_of_a_slanted_plane():
    K = np.array([[100.0, 0, 32], [0, 100.0, 24], [0, 0, 1]])
    u, _ = np.meshgrid(np.arange(64) + 0.5, np.arange(48) + 0.5)
    depth = 2.0 / (1.0 - 0.5 * (u - 32) / 100.0)  # the plane z = 2 + 0.5 x, camera frame
    normals = normals_from_depth(depth, K)
    expected = np.array([0.5, 0.0, -1.0]) / np.linalg.norm([0.5, 0.0, -1.0])
    assert np.abs(normals[5:-5, 5:-5] - expected).max() < 1e-4
    holes = depth.copy()
    holes[:, :10] = 0
    assert not normals_from_depth(holes, K)[:, :10].any()
