"""The cost of planes (depth and normal) at reference pixels: windows warped into the sources.

A plane through a reference pixel gives every sample of the pixel's window its own depth; each
sample is projected into each source, where the grey level is read bilinearly. The cost is
``1 - NCC`` between the reference's and the source's samples (a sparse window: ``(2 r + 1)^2``
samples, ``step`` pixels apart, weighted bilaterally by grey-level difference and distance to the
centre), averaged over the ``best_sources`` lowest sources that see the whole window (occlusion-
robust; fewer where fewer see it). A plane seen edge-on, behind a camera or outside every source
costs :data:`WORST`. Pixels are scored in chunks of ``chunk_pixels`` (memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from photogrammetry.mvs.geometry import relative_projection
from photogrammetry.mvs.scene import MVSView

WORST = 2.0
"""Cost of a plane that cannot be scored (1 - NCC lies in [0, 2])."""


class PlaneCost:
    """Scores planes at reference pixels against the sources.

    Args:
        ref: The reference view (intrinsics at the map's size).
        sources: Its source views (intrinsics at their images' sizes).
        ref_grey: (H, W) float tensor in [0, 1].
        src_greys: (H', W') float tensors in [0, 1], one per source.
        options: Window and aggregation (a :class:`~photogrammetry.mvs.propagation.PropagationOptions`).
    """

    def __init__(self, ref: MVSView, sources: Sequence[MVSView], ref_grey: Any, src_greys: Sequence[Any],
                 options: Any) -> None:
        import torch

        device = ref_grey.device
        self.options, self.height, self.width = options, *ref_grey.shape
        self.greys = [g[None, None] for g in src_greys]
        f32 = dict(dtype=torch.float32, device=device)
        projections = [relative_projection(ref, s) for s in sources]
        self.A = torch.as_tensor(np.stack([a for a, _ in projections]), **f32)  # (S, 3, 3)
        self.b = torch.as_tensor(np.stack([b for _, b in projections]), **f32)  # (S, 3)
        self.K_inv = torch.as_tensor(np.linalg.inv(ref.K), **f32)
        r, step = options.window_radius, options.window_step
        dv, du = torch.meshgrid(torch.arange(-r, r + 1, **f32) * step, torch.arange(-r, r + 1, **f32) * step,
                                indexing="ij")
        self.du, self.dv = du.reshape(-1), dv.reshape(-1)  # (K,)
        self._window(ref_grey)

    def _window(self, grey: Any) -> None:
        """Reference samples (HW, K) and their normalised bilateral weights (0 outside the image)."""
        import torch

        o = self.options
        v, u = torch.meshgrid(torch.arange(self.height, device=grey.device),
                              torch.arange(self.width, device=grey.device), indexing="ij")
        vs, us = v.reshape(-1, 1) + self.dv.long(), u.reshape(-1, 1) + self.du.long()
        inside = (vs >= 0) & (vs < self.height) & (us >= 0) & (us < self.width)
        values = grey[vs.clamp(0, self.height - 1), us.clamp(0, self.width - 1)]
        centre = grey.reshape(-1, 1)
        weight = torch.exp(-(values - centre).abs() / o.sigma_colour
                           - (self.du**2 + self.dv**2).sqrt() / o.sigma_distance) * inside
        self.weight = weight / weight.sum(dim=1, keepdim=True)
        mean = (self.weight * values).sum(dim=1, keepdim=True)
        self.ref_centred = values - mean
        self.ref_var = (self.weight * self.ref_centred**2).sum(dim=1)
        plain = inside / inside.sum(dim=1, keepdim=True)
        self.ref_std = ((plain * values**2).sum(dim=1) - (plain * values).sum(dim=1) ** 2).clamp(min=0).sqrt()

    def rays(self, index: Any) -> Any:
        """(3, M) rays ``K^-1 (u, v, 1)`` through the centres of flat pixel indices (M,)."""
        import torch

        u = (index % self.width).float() + 0.5
        v = torch.div(index, self.width, rounding_mode="floor").float() + 0.5
        return self.K_inv @ torch.stack([u, v, torch.ones_like(u)])

    def __call__(self, index: Any, depth: Any, normal: Any) -> Any:
        """(M,) cost of the planes ``depth`` (M,), ``normal`` (3, M) at flat pixel indices (M,)."""
        import torch

        chunk = self.options.chunk_pixels
        return torch.cat([self._score(index[i: i + chunk], depth[i: i + chunk], normal[:, i: i + chunk])
                          for i in range(0, index.shape[0], chunk)]) if index.numel() else depth.new_zeros(0)

    def adjust(self, index: Any, depth: Any, costs: Any) -> Any:
        """Per-source costs (S, M) of the planes of depth ``depth`` (M,) at ``index`` (M,) before the
        sources are aggregated; a subclass adds its own terms (the photometric cost as is here)."""
        return costs

    def _score(self, index: Any, depth: Any, normal: Any) -> Any:
        import torch
        import torch.nn.functional as F

        u = (index % self.width).float()[:, None] + 0.5 + self.du  # (M, K)
        v = torch.div(index, self.width, rounding_mode="floor").float()[:, None] + 0.5 + self.dv
        ray = self.rays(index)  # (3, M)
        offset = normal.T @ self.K_inv  # (M, 3): n . K^-1 (u, v, 1) = o0 u + o1 v + o2
        along = offset[:, :1] * u + offset[:, 1:2] * v + offset[:, 2:]
        plane = (depth * (normal * ray).sum(dim=0))[:, None]  # n . X of the plane (< 0: it faces the camera)
        facing = along < -1e-9
        sample_depth = torch.where(facing, plane / along.where(facing, -1.0), -1.0)
        weight, ref, ref_var = self.weight[index], self.ref_centred[index], self.ref_var[index]
        costs = []
        for s, grey in enumerate(self.greys):
            A, b = self.A[s], self.b[s]  # (u, v) -> A (u, v, 1) d + b, as sums: faster than a batched matmul
            x, y, z = (sample_depth * (A[i, 0] * u + A[i, 1] * v + A[i, 2]) + b[i] for i in range(3))
            scale = 1.0 / z.clamp(min=1e-9)
            grid = torch.stack([x * scale * (2.0 / grey.shape[-1]) - 1.0, y * scale * (2.0 / grey.shape[-2]) - 1.0],
                               dim=-1)
            values = F.grid_sample(grey, grid[None], mode="bilinear", padding_mode="border", align_corners=False)[0, 0]
            ok = ((grid.abs() <= 1.0).all(dim=-1) & (z > 0) & (sample_depth > 0)).all(dim=1)
            centred = values - (weight * values).sum(dim=1, keepdim=True)
            cov = (weight * ref * centred).sum(dim=1)
            var = (weight * centred**2).sum(dim=1)
            ncc = cov / (ref_var * var + 1e-8).sqrt()
            costs.append(torch.where(ok, 1.0 - ncc.clamp(-1.0, 1.0), WORST))
        costs = self.adjust(index, depth, torch.stack(costs))
        k = min(self.options.best_sources, costs.shape[0])
        best = costs.topk(k, dim=0, largest=False).values
        seen = best < WORST  # a pixel seen by fewer than k sources: the mean of those that see it
        return torch.where(seen.any(dim=0), (best * seen).sum(dim=0) / seen.sum(dim=0).clamp(min=1), WORST)
