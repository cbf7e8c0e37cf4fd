"""Depth: a depth, normal and confidence map for every undistorted view, by multi-view stereo.

Sources per view come from the sparse model (shared points, triangulation angle), the depth
range from the sparse points it sees. The default method, ``lite``, compares features of a
compact network trained on our synthetic renders in a coarse-to-fine plane sweep; ``ncc`` is
the classical baseline on the same code path (see :mod:`photogrammetry.mvs.methods`). Depths are
kept where enough sources agree (forward-backward reprojection) and inside object masks;
on flat pixels (the sky) only between textured depths that imply them (:mod:`photogrammetry.mvs.texture`).
Resumes view by view. The sweep of each view, then its filtering (which reads its sources' raw
maps, once every view is swept), go through ``ctx.map`` (here, or on the workers of a Ray
cluster). Layout in :mod:`photogrammetry.io.depth`; the maps also as COLMAP's binary arrays in
a COLMAP dense workspace ``colmap/`` (:mod:`photogrammetry.io.colmap_dense`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.io import colmap_dense
from photogrammetry.io.depth import DepthSummary, load_array, load_depth, save_depth_summary
from photogrammetry.io.undistort import UndistortResult
from photogrammetry.mvs.methods import METHODS
from photogrammetry.mvs.options import MVSOptions

_FORMERLY_FLAT = ("method", "weights", "max_image_size", "window_radius", "best_sources", "use_masks", "fp16",
                  "selection.num_sources", "selection.depth_margin", "cascade.hypotheses", "cascade.search_radius",
                  "cascade.sgm_levels", "cascade.memory_budget_mb", "filtering.min_consistent_views",
                  "filtering.max_reprojection_px", "filtering.max_relative_depth", "filtering.min_confidence",
                  "feature_cache_mb")


@dataclass(frozen=True, kw_only=True)
class DepthConfig(MVSOptions):
    """Settings of the depth stage: the options of :class:`~photogrammetry.mvs.options.MVSOptions`,
    declared (with their defaults and docs) there; ``photogrammetry options depth`` lists them."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        **{path: path.rpartition(".")[2] for path in _FORMERLY_FLAT},
        "cascade.sgm.enabled": "sgm", "cascade.sgm.p1": "sgm_p1", "cascade.sgm.p2": "sgm_p2",
        "cascade.sgm.paths": "sgm_paths"}
    """The flat names these options had in the cache key before they were nested (stage version 3)."""


def fingerprint(config: DepthConfig, photos: Path) -> dict[str, Any]:
    """The learned weights the method would use (file name and hash or size) enter the key."""
    return {"weights": METHODS[config.method].weights(config.weights or None)}


def write_colmap_workspace(out: Path, summary: DepthSummary, undistort: UndistortResult) -> None:
    """The maps of ``out`` (a depth artifact) also as a COLMAP dense workspace ``out/colmap``."""
    workspace = out / colmap_dense.WORKSPACE
    colmap_dense.link_workspace(workspace, undistort.root, [view.name for view in summary.views])
    for view in summary.views:
        normals = load_array(out / "normals" / f"{view.name}.npy").astype(np.float32)
        colmap_dense.write_maps(workspace, view.name, load_array(out / "depth" / f"{view.name}.npy"), normals)


def run(config: DepthConfig, ctx: StageContext, *, undistort: UndistortResult) -> dict[str, Any]:
    """Compute the maps of every undistorted view into ``ctx.out``."""
    from photogrammetry.mvs.multiview import compute_depth, view_threads
    from photogrammetry.mvs.scene import load_scene

    scene = load_scene(undistort.image_dir, undistort.model, undistort.masks_dir)
    summary = compute_depth(scene, config, ctx.out, device=ctx.device, items=ctx.items("raw-items"),
                            track=lambda views: ctx.track(views, total=len(views), unit="view"),
                            map_views=lambda task, views: ctx.map(task, views, unit="view"),
                            sweep_device=ctx.device_request, geometric_items=ctx.items("geo-items"),
                            threads=view_threads(ctx.workers, ctx.executor.name == "local"))
    summary = replace(summary, units=undistort.units)
    write_colmap_workspace(ctx.out, summary, undistort)
    save_depth_summary(ctx.out, summary)
    kept = [v.kept for v in summary.views]
    return {"views": len(kept), "mean_kept": round(sum(kept) / max(len(kept), 1), 3),
            "masked": sum(1 for v in summary.views if v.mask)}


STAGE = StageSpec(
    name="depth",
    version=13,  # 3: sources of another size than the reference are matched at their own size; 4: colmap/;
    # 5: confidence from the coarse sweep, kept pixels gated by it (min_confidence, confident_views);
    # 6: the CPU sweep warps at most 16 MB of features at once (mvs.cascade.WARP_ELEMENTS): last bits differ;
    # 7: depths on flat pixels kept only where textured depths enclose them (filtering.min_contrast);
    # 8: none on dark flat pixels (filtering.dark_grey: the foreground's depth carried onto a black background);
    # 9: nor on dark pixels within 2 px of them (filtering.dark_reach: a bright object's dark outline); lite.pt
    # fine-tuned on photo-like renders and rooms (mvs/weights/README.md); lite-ncc's windows 3x3 and 5x5; box
    # filters by OpenCV on the CPU (mvs.geometry.box_filter: last bits); 10: the agreement score is the support
    # times the confidence (was plus half of it); by default (filtering.min_score 0.9) it also keeps what the
    # counts drop; 11: none on the fringe that the sweep carried onto a large flat background (filtering.fringe_reach);
    # 12: short baselines' loose tolerance everywhere (disparity_px 1, loose_views 3), small segments dropped
    # (speckle_area), raw depths that the kept neighbours imply kept (implied_reach); 13: kept surfaces grown
    # through the raw map (filtering.grow_reach)
    config=DepthConfig,
    run=run,
    load=load_depth,
    requires=("undistort",),
    fingerprint=fingerprint,
    outputs={"depth_maps": "depth", "normal_maps": "normals", "confidence_maps": "confidence",
             "colmap_workspace": colmap_dense.WORKSPACE},
    cost=Cost(unit="view", seconds=15.0, count="views", units_from="sfm.registered"),
    per_item=True,
    summary="Depth, normal and confidence maps of every view by learned multi-view stereo.",
)
