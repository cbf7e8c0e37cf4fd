"""Which source views each reference view is matched with, and the depth range it searches.

Sources are scored as in MVSNet (Yao et al. 2018): every sparse point seen by both views adds
``G(theta)``, a bump peaked at the triangulation angle ``theta_0``: narrow below it (little parallax
is useless), wide above it (large angles still help, occlusions limit them). The peak is at 3
degrees, not MVSNet's 5: along a hand-held walk the camera turns 7-9 degrees a frame while the
triangulation angle grows by only 1.6-4.3, so the 5-degree peak took frames 3-5 apart, which see
4-48 % of the reference's pixels, and left out the next frame, which sees 62-73 % (docs/benchmarks.md: Which views
a depth map is matched with). Rings and facades have their sources above 5 degrees: they keep them.
Views that share no point are scored by the same bump over the angle their centres subtend at
the reference's median scene depth, so models without tracks still work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.scene import MVSScene, MVSView


@dataclass(frozen=True, kw_only=True)
class SelectionOptions:
    """How sources and depth ranges are chosen."""

    num_sources: int = 5
    """Source views per reference view (fewer when fewer views overlap it)."""
    best_angle_deg: float = 3.0
    """Triangulation angle scored best. 3 (MVSNet: 5) chosen on office frames 0-7 (true cameras,
    ``lite-ncc``, each view's own scale): kept depths within 2 % 0.536 -> 0.571, within 5 % 0.873 ->
    0.883, sensor pixels within 5 % 0.142 -> 0.143; 2 and ``sigma_below_deg`` 3 were more accurate
    and less complete there (0.123 and 0.122 kept against 0.130). Held-out frames 8-19 (true cameras):
    kept 0.156 -> 0.178, within 2 % 0.454 -> 0.475, sensor pixels within 5 % 0.152 -> 0.173 (``ncc``
    0.169 -> 0.187); frames 20-31: kept 0.169 -> 0.286, within 2 % 0.617 -> 0.659, sensor pixels 0.179
    -> 0.316 (docs/benchmarks.md). The sample scenes, the temple and the fountain keep their sources; the landmark's
    change (kept 0.152 -> 0.171, a little more of it in the sky: docs/benchmarks.md)."""
    sigma_below_deg: float = 1.0
    """Width of the score bump below ``best_angle_deg``."""
    sigma_above_deg: float = 10.0
    """Width of the score bump above ``best_angle_deg``."""
    max_axis_angle_deg: float = 80.0
    """Sources whose viewing direction differs more than this from the reference's are left out."""
    depth_percentiles: tuple[float, float] = (1.0, 99.0)
    """Percentiles of the sparse points' depths that bound the range before the margin."""
    depth_margin: float = 0.2
    """The range grows by this fraction of its length in inverse depth on each side (the far end at
    most to twice its depth)."""

    def __post_init__(self) -> None:
        if self.num_sources < 1:
            raise ConfigError(f"num_sources must be >= 1, got {self.num_sources}")


def angle_score(angles_deg: np.ndarray, options: SelectionOptions) -> np.ndarray:
    """MVSNet's piecewise Gaussian score of triangulation angles (degrees), same shape."""
    sigma = np.where(angles_deg <= options.best_angle_deg, options.sigma_below_deg, options.sigma_above_deg)
    return np.exp(-((angles_deg - options.best_angle_deg) ** 2) / (2.0 * sigma**2))


def triangulation_angles(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) angles in degrees at points (P, 3) between the rays to centres ``a`` and ``b`` (3,)."""
    ra, rb = a - points, b - points
    cos = np.sum(ra * rb, axis=1) / np.maximum(np.linalg.norm(ra, axis=1) * np.linalg.norm(rb, axis=1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def view_depths(view: MVSView, points: np.ndarray) -> np.ndarray:
    """(P,) depths along ``view``'s z axis of world points (P, 3)."""
    return points @ view.R[2] + view.t[2]


def _pair_score(scene: MVSScene, ref: MVSView, src: MVSView, options: SelectionOptions) -> float:
    shared = np.intersect1d(scene.observations[ref.name], scene.observations[src.name], assume_unique=True)
    if len(shared):
        return float(angle_score(triangulation_angles(scene.points[shared], ref.center, src.center), options).sum())
    seen = scene.points[scene.observations[ref.name]]
    depth = float(np.median(view_depths(ref, seen))) if len(seen) else 1.0
    anchor = ref.center + max(depth, 1e-9) * ref.axis
    angle = triangulation_angles(anchor[None], ref.center, src.center)
    return float(angle_score(angle, options)[0]) * 1e-3  # below any view that shares a point


def select_sources(scene: MVSScene, options: SelectionOptions) -> dict[str, list[str]]:
    """Source views of every view, best first.

    Returns:
        View name -> up to ``options.num_sources`` source names; views with no usable source map
        to an empty list.
    """
    max_cos = np.cos(np.radians(options.max_axis_angle_deg))
    sources = {}
    for ref in scene.views.values():
        scored = []
        for src in scene.views.values():
            if src.name == ref.name or float(ref.axis @ src.axis) < max_cos:
                continue
            if np.linalg.norm(src.center - ref.center) <= 1e-12:
                continue
            score = _pair_score(scene, ref, src, options)
            if score > 1e-6:
                scored.append((score, src.name))
        scored.sort(key=lambda s: (-s[0], s[1]))
        sources[ref.name] = [name for _, name in scored[: options.num_sources]]
    return sources


def depth_range(scene: MVSScene, view: MVSView, options: SelectionOptions) -> tuple[float, float] | None:
    """Near and far depth of ``view`` from the sparse points it sees in front of it (from all the
    points in front when it sees fewer than 3 there); ``None`` when no sparse point lies in front."""
    depths = view_depths(view, scene.points[scene.observations[view.name]])
    depths = depths[depths > 0]
    if len(depths) < 3:
        depths = view_depths(view, scene.points)
        depths = depths[depths > 0]
    if len(depths) == 0:
        return None
    near, far = np.percentile(depths, options.depth_percentiles)
    inv_near, inv_far = 1.0 / near, 1.0 / max(far, near * 1.05)
    grow = options.depth_margin * (inv_near - inv_far)
    return float(1.0 / (inv_near + grow)), float(1.0 / max(inv_far - grow, 0.5 * inv_far))
