"""Undistort: the sfm model's images resampled to pinhole cameras, as a COLMAP dense workspace.

Runs ``pycolmap.undistort_images`` on the chosen sfm model: ``images/`` (the registered
images undistorted), ``sparse/`` (the PINHOLE model that goes with them) and ``stereo/``
(COLMAP's patch-match configuration), which multi-view stereo reads. See
:mod:`photogrammetry.io.sfm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.sfm import SfmResult, load_undistort, save_undistort


@dataclass(frozen=True, kw_only=True)
class UndistortConfig:
    """Settings of the undistort stage."""

    max_image_size: int = 0
    """Longest side of the undistorted images in pixels; 0 keeps the size of the photos."""
    blank_pixels: float = 0.0
    """Fraction of blank (black) border pixels allowed: 0 crops to the valid region only,
    1 keeps the whole distorted field of view."""
    jpeg_quality: int = 95
    """Quality of the JPEGs written (other formats stay lossless)."""

    def __post_init__(self) -> None:
        if self.max_image_size < 0 or 0 < self.max_image_size < 64:
            raise ConfigError(f"undistort.max_image_size must be 0 (full size) or >= 64, got {self.max_image_size}")
        if not 0.0 <= self.blank_pixels <= 1.0:
            raise ConfigError(f"undistort.blank_pixels must be within [0, 1], got {self.blank_pixels}")
        if not 50 <= self.jpeg_quality <= 100:
            raise ConfigError(f"undistort.jpeg_quality must be within 50..100, got {self.jpeg_quality}")


def _options(config: UndistortConfig) -> Any:
    import pycolmap

    options = pycolmap.UndistortCameraOptions()
    options.blank_pixels = config.blank_pixels
    options.max_image_size = config.max_image_size or -1
    return options


def run(config: UndistortConfig, ctx: StageContext, *, ingest: IngestResult, sfm: SfmResult) -> dict[str, Any]:
    """Undistort the registered images of the chosen sfm model into ``ctx.out``."""
    import pycolmap

    from photogrammetry.sfm.colmap import colmap_errors, image_folder, quiet_colmap

    images = image_folder(ingest, ctx.out / ".images")
    names = list(sfm.summary.registered)
    with quiet_colmap(), colmap_errors("undistortion", "check that the ingest images are still in the workspace "
                                       "(rerun with --force ingest)"):
        pycolmap.undistort_images(ctx.out, sfm.model, images, image_names=names, output_type="COLMAP",
                                  undistort_options=_options(config), jpeg_quality=config.jpeg_quality,
                                  num_threads=ctx.workers)
    missing = [n for n in names if not (ctx.out / "images" / n).is_file()]
    if missing:
        raise StageError(f"undistortion wrote no image for {len(missing)} of {len(names)} images "
                         f"(e.g. {missing[0]}); check that the ingest images are readable")
    save_undistort(ctx.out, tuple(names))
    model = pycolmap.Reconstruction(ctx.out / "sparse")
    return {"images": len(names), "cameras": model.num_cameras()}


STAGE = StageSpec(
    name="undistort",
    version=1,
    config=UndistortConfig,
    run=run,
    load=load_undistort,
    requires=("ingest", "sfm"),
    outputs={"images": "images", "model": "sparse"},
    summary="Undistort the registered images to pinhole cameras for multi-view stereo.",
)
