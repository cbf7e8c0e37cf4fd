"""Depth: a depth, normal and confidence map for every undistorted view, by multi-view stereo.

Sources per view come from the sparse model (shared points, triangulation angle), the depth
range from the sparse points it sees. The default method, ``lite``, compares features of a
compact network trained on our synthetic renders in a coarse-to-fine plane sweep; ``ncc`` is
the classical baseline on the same code path (see :mod:`photogrammetry.mvs.methods`). Depths are
kept where enough sources agree (forward-backward reprojection) and inside object masks.
Resumes view by view. Layout in :mod:`photogrammetry.io.depth`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError
from photogrammetry.io.depth import load_depth, save_depth_summary
from photogrammetry.io.sfm import UndistortResult
from photogrammetry.mvs.cascade import CascadeOptions
from photogrammetry.mvs.filtering import FilterOptions
from photogrammetry.mvs.methods import METHODS, method_spec
from photogrammetry.mvs.regularize import SGMOptions
from photogrammetry.mvs.selection import SelectionOptions

_NO_CACHE = {"cache": False}


@dataclass(frozen=True, kw_only=True)
class DepthConfig:
    """Settings of the depth stage."""

    method: str = "lite"
    """MVS method: ``lite`` (learned, default), ``ncc`` (classical), ``disk``, ``aliked``."""
    weights: str = ""
    """Weight file of a learned method; empty: the method's own (committed or shipped)."""
    max_image_size: int = 1600
    """Longest side of the depth maps in pixels (images are downscaled); 0: full size."""
    num_sources: int = 5
    """Source views per view."""
    hypotheses: tuple[int, ...] = (48, 16, 8)
    """Depth hypotheses per cascade level, coarse to fine; each level doubles the resolution."""
    search_radius: float = 2.0
    """Finer levels search this many coarser intervals to each side of the coarser estimate."""
    sgm: bool = True
    """Regularise every level's cost volume by semi-global aggregation (smooth surfaces win over
    isolated matches in weak texture); off: each pixel takes its own best hypothesis."""
    sgm_p1: float = 0.06
    """Semi-global penalty of a one-hypothesis step between neighbouring pixels (cost units)."""
    sgm_p2: float = 0.3
    """Semi-global penalty of a larger jump between neighbouring pixels (a depth edge)."""
    sgm_paths: int = 4
    """Scanline directions of the semi-global aggregation: 4 or 8."""
    sgm_levels: int = 0
    """Regularise only this many of the coarsest cascade levels (0: all; fewer is faster and less
    complete: on the orbit scene one level keeps 0.68 of the pixels, all three 0.74)."""
    window_radius: int = 0
    """Radius of the matching window; 0: the method's default."""
    best_sources: int = 2
    """Sources whose similarities are averaged per hypothesis (the best ones: occlusions)."""
    depth_margin: float = 0.2
    """Margin added to the sparse points' depth range, fraction of its inverse-depth length."""
    min_consistent_views: int = 2
    """Sources that must agree with a depth for it to be kept."""
    max_reprojection_px: float = 1.0
    """Forward-backward reprojection error allowed for an agreeing source, pixels."""
    max_relative_depth: float = 0.01
    """Relative depth difference allowed for an agreeing source."""
    min_confidence: float = 0.0
    """Depths below this confidence are dropped before the consistency check."""
    use_masks: bool = True
    """Keep depths only inside the object masks of views that have one."""
    fp16: bool = True
    """Half-precision features on CUDA (the CPU always computes in float32)."""
    memory_budget_mb: int = field(default=2048, metadata=_NO_CACHE)
    """Working memory of one sweep; tiles shrink to fit (does not change results)."""
    feature_cache_mb: int = field(default=4096, metadata=_NO_CACHE)
    """Feature maps kept in memory across views (does not change results)."""

    def __post_init__(self) -> None:
        method_spec(self.method)
        if not self.hypotheses or min(self.hypotheses) < 2:
            raise ConfigError(f"depth.hypotheses needs at least one level of >= 2, got {self.hypotheses}")
        if self.max_image_size < 0 or 0 < self.max_image_size < 32:
            raise ConfigError(f"depth.max_image_size must be 0 or >= 32, got {self.max_image_size}")
        if self.sgm_paths not in (4, 8) or not 0 <= self.sgm_p1 <= self.sgm_p2:
            raise ConfigError(f"depth.sgm_paths must be 4 or 8 and 0 <= depth.sgm_p1 <= depth.sgm_p2; got "
                              f"{self.sgm_paths}, {self.sgm_p1}, {self.sgm_p2}")
        if self.num_sources < 1 or self.best_sources < 1 or self.min_consistent_views < 0:
            raise ConfigError("depth.num_sources and depth.best_sources must be >= 1, "
                              "depth.min_consistent_views >= 0")


def mvs_options(config: DepthConfig) -> Any:
    """The :class:`~photogrammetry.mvs.multiview.MVSOptions` of a config."""
    from photogrammetry.mvs.multiview import MVSOptions

    return MVSOptions(
        method=config.method, weights=config.weights or None, max_image_size=config.max_image_size,
        window_radius=config.window_radius, best_sources=config.best_sources, use_masks=config.use_masks,
        fp16=config.fp16, feature_cache_mb=config.feature_cache_mb,
        selection=SelectionOptions(num_sources=config.num_sources, depth_margin=config.depth_margin),
        cascade=CascadeOptions(hypotheses=tuple(config.hypotheses), search_radius=config.search_radius,
                               memory_budget_mb=config.memory_budget_mb, sgm_levels=config.sgm_levels,
                               sgm=SGMOptions(p1=config.sgm_p1, p2=config.sgm_p2, paths=config.sgm_paths)
                               if config.sgm else None),
        filtering=FilterOptions(min_consistent_views=config.min_consistent_views,
                                max_reprojection_px=config.max_reprojection_px,
                                max_relative_depth=config.max_relative_depth, min_confidence=config.min_confidence))


def fingerprint(config: DepthConfig, photos: Path) -> dict[str, Any]:
    """The learned weights the method would use (file name and hash or size) enter the key."""
    return {"weights": METHODS[config.method].weights(config.weights or None)}


def masks_dir(undistort: UndistortResult) -> Path | None:
    """The undistorted masks' folder (``<undistort>/masks``) when undistort wrote one."""
    folder = undistort.root / "masks"
    return folder if folder.is_dir() else None


def run(config: DepthConfig, ctx: StageContext, *, undistort: UndistortResult) -> dict[str, Any]:
    """Compute the maps of every undistorted view into ``ctx.out``."""
    from photogrammetry.mvs.multiview import compute_depth
    from photogrammetry.mvs.scene import load_scene

    scene = load_scene(undistort.image_dir, undistort.model, masks_dir(undistort))
    summary = compute_depth(scene, mvs_options(config), ctx.out, device=ctx.device, items=ctx.items("raw-items"),
                            track=lambda views: ctx.track(views, total=len(views), unit="view"))
    save_depth_summary(ctx.out, summary)
    kept = [v.kept for v in summary.views]
    return {"views": len(kept), "mean_kept": round(sum(kept) / max(len(kept), 1), 3),
            "masked": sum(1 for v in summary.views if v.mask)}


STAGE = StageSpec(
    name="depth",
    version=3,  # 3: sources of another size than the reference are matched at their own size
    config=DepthConfig,
    run=run,
    load=load_depth,
    requires=("undistort",),
    fingerprint=fingerprint,
    outputs={"depth_maps": "depth", "normal_maps": "normals", "confidence_maps": "confidence"},
    summary="Depth, normal and confidence maps of every view by learned multi-view stereo.",
)
