"""Scale: the SfM model in metres, from a known length, with the scale's uncertainty.

Methods are the registry :data:`photogrammetry.scale.SCALE_METHODS` (:mod:`photogrammetry.scale.methods`):
``none`` (the default: the model is copied unchanged, units stay ``sfm``), ``platform`` (the radius
of a turntable's platform), ``radius`` (camera-to-axis distance of a turntable),
``marker`` (ArUco markers or a ChArUco board on the platform) and ``points`` (two marked
points a known distance apart). Writes ``model/`` (COLMAP binary, the ``sparse_model`` that
``eval`` reads) and ``scale.json`` (:class:`~photogrammetry.io.scale.ScaleInfo`); the
undistort stage starts from this model, so depth, fusion, mesh and export come out in metres.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.scale import ScaleInfo, load_scale, save_scale
from photogrammetry.io.sfm import SfmResult
from photogrammetry.scale.markers import TargetSpec
from photogrammetry.scale.methods import SCALE_METHODS, ScaleRequest, read_points, scale_method


@dataclass(frozen=True, kw_only=True)
class ScaleConfig:
    """Settings of the scale stage."""

    method: str = field(default="none", metadata={"choices": tuple(SCALE_METHODS)})
    """One of :data:`~photogrammetry.scale.SCALE_METHODS`: ``none``, ``platform``, ``radius``,
    ``marker`` or ``points``."""
    radius_mm: float = 0.0
    """Platform method: radius of the platform's top, mm. Radius method: horizontal distance
    from the camera (lens) to the turntable's axis, mm."""
    ring_size: int = 0
    """Radius method: views of the first ring (the first images in name order); 0: all images."""
    marker: TargetSpec = field(default_factory=TargetSpec)
    """Marker method: the printed markers or ChArUco board on the platform."""
    distance_mm: float = 0.0
    """Points method: distance between the two marked points, millimetres."""
    points_file: str = field(default="", metadata={"cache": False, "path": "file"})
    """Points method: text file, one observation a line: ``label image_name x y`` (pixels, the
    top-left pixel's centre at 0.5, 0.5), two labels. Its content, not its path, is in the key."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        **{name: name for name in ("method", "radius_mm", "ring_size", "distance_mm")},
        "marker.kind": "target", "marker.dictionary": "dictionary", "marker.marker_mm": "marker_mm",
        "marker.square_mm": "square_mm", "marker.board": "board_squares"}
    """The flat names these options had in the cache key before they were nested (stage version 1)."""

    def __post_init__(self) -> None:
        missing = scale_method(self.method).missing(self)
        if self.method == "marker" and self.marker.kind == "charuco" and self.marker.square_mm <= 0:
            missing.append("marker.square_mm")
        if missing:
            what = "=PATH ('label image x y' lines)" if missing[0] == "points_file" else " > 0"
            raise ConfigError(f"scale.method={self.method} needs scale.{missing[0]}{what}")
        if self.ring_size < 0:
            raise ConfigError(f"scale.ring_size must be >= 0, got {self.ring_size}")


def fingerprint(config: ScaleConfig, photos: Path) -> dict[str, Any] | None:
    """The points file's content hash (points method only)."""
    if config.method != "points":
        return None
    return {"points_sha256": hashlib.sha256(read_points(config.points_file).encode("utf-8")).hexdigest()}


def run(config: ScaleConfig, ctx: StageContext, *, ingest: IngestResult, sfm: SfmResult) -> dict[str, Any]:
    """Scale ``sfm``'s chosen model to metres (or copy it) into ``ctx.out/model``."""
    import numpy as np
    import pycolmap

    model = pycolmap.Reconstruction(sfm.model)
    info = ScaleInfo(method="none", units="sfm", scale=1.0, relative_uncertainty=None, samples=0)
    method = scale_method(config.method)
    if method.estimate is not None:
        by_name = {r.name: r for r in ingest.images}
        request = ScaleRequest(model=model, names=list(by_name), settings=config,
                               image_path=lambda name: ingest.image_path(by_name[name]))
        try:
            found = method.estimate(request)
        except ValueError as e:
            raise StageError(f"scale ({config.method}): {e}") from e
        model.transform(pycolmap.Sim3d(found.scale, pycolmap.Rotation3d(), np.zeros(3)))
        info = ScaleInfo(method=found.method, units="metres", scale=found.scale,
                         relative_uncertainty=found.relative_uncertainty, samples=found.samples)
        ctx.log.info("scale from %s: %.6g m per SfM unit +- %.3f %% (%d samples)", found.method, found.scale,
                     100 * found.relative_uncertainty, found.samples)
    (ctx.out / "model").mkdir(parents=True, exist_ok=True)
    model.write_binary(str(ctx.out / "model"))
    save_scale(ctx.out, info)
    uncertainty = None if info.relative_uncertainty is None else round(100 * info.relative_uncertainty, 4)
    return {"method": info.method, "units": info.units, "scale": info.scale,
            "uncertainty_percent": -1 if uncertainty is None else uncertainty, "samples": info.samples}


STAGE = StageSpec(
    name="scale",
    version=1,
    config=ScaleConfig,
    run=run,
    load=load_scale,
    requires=("ingest", "sfm"),
    fingerprint=fingerprint,
    outputs={"sparse_model": "model", "scale": "scale.json"},
    cost=Cost(seconds=0.01),
    summary="Metric scale: the SfM model in metres from a turntable's platform or radius, ArUco/ChArUco markers "
            "or two points.",
)
