"""Projective geometry on tensors: pixel grids, warping by depth, normals from depth.

Pixel coordinates follow COLMAP (centre of the top-left pixel at ``(0.5, 0.5)``, an image of
width ``W`` spans ``[0, W]``), which is what ``grid_sample(align_corners=False)`` assumes when
``u`` is mapped to ``2 u / W - 1``. torch is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from photogrammetry.mvs.scene import MVSView


def relative_projection(ref: MVSView, src: MVSView) -> tuple[np.ndarray, np.ndarray]:
    """``A`` (3, 3) and ``b`` (3,) such that a reference pixel ``p = (u, v, 1)`` at depth ``d``
    lands at ``d * A @ p + b`` (homogeneous) in the source image: ``A = K_s R K_r^-1``, ``b = K_s t``
    with ``(R, t)`` the pose of the source relative to the reference."""
    rotation = src.R @ ref.R.T
    translation = src.t - rotation @ ref.t
    return src.K @ rotation @ np.linalg.inv(ref.K), src.K @ translation


def pixel_grid(height: int, width: int, *, rows: tuple[int, int] | None = None, device: Any = "cpu") -> Any:
    """Homogeneous pixel centres ``(3, N)`` float32 of the rows ``[r0, r1)`` (default all), row-major."""
    import torch

    r0, r1 = rows or (0, height)
    v, u = torch.meshgrid(torch.arange(r0, r1, device=device, dtype=torch.float32) + 0.5,
                          torch.arange(width, device=device, dtype=torch.float32) + 0.5, indexing="ij")
    return torch.stack([u.reshape(-1), v.reshape(-1), torch.ones_like(u).reshape(-1)])


def project(A: Any, b: Any, pixels: Any, depth: Any) -> tuple[Any, Any]:
    """Source-image positions of reference pixels at hypothesised depths, for one or S sources.

    Args:
        A: (3, 3) or (S, 3, 3) from :func:`relative_projection`.
        b: (3,) or (S, 3) from :func:`relative_projection`.
        pixels: (3, N) homogeneous reference pixels.
        depth: (D, N) or (D, 1) depths.

    Returns:
        ``uv`` ([S,] D, N, 2) source pixel coordinates and ``z`` ([S,] D, N) depths in the source
        camera (a point is in front of it where ``z > 0``).
    """
    rays = (A @ pixels).transpose(-1, -2)  # ([S,] N, 3)
    q = depth[..., None] * rays.unsqueeze(-3) + b[..., None, None, :]  # ([S,] D, N, 3)
    z = q[..., 2]
    return q[..., :2] / z.clamp(min=1e-9)[..., None], z


def sample(feature: Any, uv: Any) -> tuple[Any, Any]:
    """Bilinear samples of feature maps at pixel positions, for one or S maps.

    Args:
        feature: (C, H, W) or (S, C, H, W) maps.
        uv: (D, N, 2) or (S, D, N, 2) pixel coordinates (COLMAP convention).

    Returns:
        ``values`` ([S,] C, D, N) (0 outside the image) and ``inside`` ([S,] D, N) bool.
    """
    import torch.nn.functional as F

    batched = feature.dim() == 4
    height, width = feature.shape[-2:]
    scale = uv.new_tensor([2.0 / width, 2.0 / height])
    grid = uv * scale - 1.0
    inside = (grid.abs() <= 1.0).all(dim=-1)
    values = F.grid_sample(feature if batched else feature[None], grid if batched else grid[None],
                           mode="bilinear", padding_mode="zeros", align_corners=False)
    return (values, inside) if batched else (values[0], inside)


def box_filter(x: Any, radius: int) -> Any:
    """Mean over ``(2 radius + 1)^2`` windows of each (..., H, W) slice, same shape; at the edges, the
    mean of the window's pixels inside the image.

    On CUDA this is ``avg_pool2d``; on the CPU, OpenCV's ``boxFilter`` on each slice for float32
    without gradients (about ten times faster than torch's running sums, which other dtypes and
    training keep: those cost the same for any radius, three times less than pooling at radius 2, but
    lose precision in float32 on large offsets).
    """
    import torch
    import torch.nn.functional as F

    if radius <= 0:
        return x
    shape = x.shape
    flat = x.reshape(-1, 1, *shape[-2:])
    if x.is_cuda:
        out = F.avg_pool2d(flat, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
        return out.reshape(shape)
    if x.dtype == torch.float32 and x.device.type == "cpu" and not x.requires_grad:
        return torch.from_numpy(_box_opencv(flat.reshape(-1, *shape[-2:]).contiguous().numpy(), radius)).reshape(shape)
    ones = flat.new_ones((1, 1, *shape[-2:]))
    return (_window_sum(flat, radius) / _window_sum(ones, radius)).reshape(shape)


def _box_opencv(slices: np.ndarray, radius: int) -> np.ndarray:
    """Means over ``(2 radius + 1)^2`` windows of each (H, W) slice of (B, H, W) float32, over the
    window's pixels inside the image (OpenCV's unnormalised ``boxFilter`` with zeros outside, divided
    by the count of those pixels)."""
    import cv2

    size = (2 * radius + 1, 2 * radius + 1)
    out = np.empty_like(slices)
    for src, dst in zip(slices, out):
        cv2.boxFilter(src, -1, size, dst=dst, normalize=False, borderType=cv2.BORDER_CONSTANT)
    count = cv2.boxFilter(np.ones(slices.shape[1:], np.float32), -1, size, normalize=False,
                          borderType=cv2.BORDER_CONSTANT)
    out /= count
    return out


def _window_sum(x: Any, radius: int) -> Any:
    """Sums over ``(2 radius + 1)^2`` windows (zeros outside) of (B, 1, H, W), by running sums."""
    import torch.nn.functional as F

    size = 2 * radius + 1
    total = F.pad(x, (radius + 1, radius)).cumsum(dim=-1)
    x = total[..., size:] - total[..., :-size]
    total = F.pad(x, (0, 0, radius + 1, radius)).cumsum(dim=-2)
    return total[..., size:, :] - total[..., :-size, :]


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points (H, W, 3) of a depth map (H, W) with intrinsics (3, 3)."""
    height, width = depth.shape
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    pixels = np.stack([u, v, np.ones_like(u)], axis=-1)
    return (pixels @ np.linalg.inv(K).T) * depth[..., None]


def normals_from_depth(depth: np.ndarray, K: np.ndarray, smooth_radius: int = 2) -> np.ndarray:
    """Camera-frame unit normals (H, W, 3) float32 of a depth map (H, W); 0 where undefined.

    The back-projected points are first averaged over ``(2 r + 1)^2`` windows (valid pixels
    only); normals come from central differences of those (one-sided where a neighbour has no
    depth) and face the camera; an isolated pixel gets the direction back to the camera.
    """
    import cv2

    valid = depth > 0
    points = backproject(depth, K) * valid[..., None]
    if smooth_radius > 0:
        size = (2 * smooth_radius + 1,) * 2
        weight = cv2.boxFilter(valid.astype(np.float64), -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
        summed = cv2.boxFilter(points, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
        points = summed / np.maximum(weight, 1)[..., None]
    du = _difference(points, valid, axis=1)
    dv = _difference(points, valid, axis=0)
    normal = np.cross(du, dv)
    norm = np.linalg.norm(normal, axis=-1, keepdims=True)
    toward_camera = -points / np.maximum(np.linalg.norm(points, axis=-1, keepdims=True), 1e-20)
    normal = np.where(norm > 0, normal / np.maximum(norm, 1e-20), toward_camera)
    facing = np.sum(normal * points, axis=-1, keepdims=True) > 0
    normal = np.where(facing, -normal, normal)
    return np.where(valid[..., None], normal, 0.0).astype(np.float32)


def _difference(points: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Finite differences (H, W, 3) of points along ``axis``: central, or one-sided at gaps."""
    fwd = np.roll(points, -1, axis=axis) - points
    bwd = points - np.roll(points, 1, axis=axis)
    ok_f = np.roll(valid, -1, axis=axis) & valid
    ok_b = np.roll(valid, 1, axis=axis) & valid
    last = [slice(None)] * 2
    last[axis] = -1
    ok_f[tuple(last)] = False
    first = [slice(None)] * 2
    first[axis] = 0
    ok_b[tuple(first)] = False
    both = (ok_f & ok_b)[..., None]
    return np.where(both, 0.5 * (fwd + bwd), np.where(ok_f[..., None], fwd, np.where(ok_b[..., None], bwd, 0.0)))
