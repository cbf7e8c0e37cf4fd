"""Undistort: the sfm model's images resampled to pinhole cameras, as a COLMAP dense workspace.

Runs ``pycolmap.undistort_images`` on the chosen sfm model as the scale stage left it (in
metres when a scale is known): ``images/`` (the registered images undistorted), ``sparse/``
(the PINHOLE model that goes with them), ``stereo/`` (COLMAP's patch-match configuration),
which multi-view stereo reads, and ``masks/<image name>.png`` (the object masks warped by the
same undistortion, nearest neighbour, 255 = object; only for images with a mask), which depth,
fusion, mesh and texture honour. ``undistort.json`` holds the image names and the ``units``
(``metres`` or ``sfm``). Layout in :mod:`photogrammetry.io.undistort`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.masks import MaskSet, read_mask, write_mask
from photogrammetry.io.scale import ScaleResult
from photogrammetry.io.sfm import SfmResult
from photogrammetry.io.undistort import load_undistort, save_undistort
from photogrammetry.masking.platform import PlatformOptions


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
    remove_platform: bool = False
    """Turntables (one pass, no flip): cut the platform, which turns with the object, out of the
    warped masks, found from the cameras' circle, the sparse points and photo-consistency (see
    :mod:`photogrammetry.masking.platform`)."""
    platform: PlatformOptions = field(default_factory=PlatformOptions)
    """With ``remove_platform``: how the platform's pixels are told apart."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        **{name: name for name in ("max_image_size", "blank_pixels", "jpeg_quality", "remove_platform")},
        "platform.tolerance": "platform_tolerance"}
    """The flat names these options had in the cache key before they were nested (stage version 2)."""

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


def pixel_map(source: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of camera ``target``, where it samples camera ``source`` (both pycolmap).

    Returns:
        ``(map_x, map_y)``, each (H, W) float32 in OpenCV's pixel convention (for ``cv2.remap``).
    """
    cols, rows = np.meshgrid(np.arange(target.width) + 0.5, np.arange(target.height) + 0.5)
    rays = target.cam_from_img(np.stack([cols.ravel(), rows.ravel()], axis=1))
    pixels = source.img_from_cam(np.column_stack([rays, np.ones(len(rays))]), check_cheirality=False) - 0.5
    shape = (target.height, target.width)
    return pixels[:, 0].reshape(shape).astype(np.float32), pixels[:, 1].reshape(shape).astype(np.float32)


def as_pinhole(model: Any) -> int:
    """Turn the cameras COLMAP's undistorter left in their own model, as it does when their
    distortion is zero, into the ``PINHOLE`` cameras they are; how many it changed."""
    import pycolmap

    changed = 0
    for camera in model.cameras.values():
        if camera.model.name in ("PINHOLE", "SIMPLE_PINHOLE"):
            continue
        if any(float(camera.params[i]) != 0.0 for i in camera.extra_params_idxs()):
            raise StageError(f"undistortion left camera {camera.camera_id} with distortion ({camera.model.name}); "
                             "report the photos that cause it")
        params = [camera.focal_length_x, camera.focal_length_y, camera.principal_point_x, camera.principal_point_y]
        camera.model = pycolmap.CameraModelId.PINHOLE
        camera.params = params
        changed += 1
    return changed


def warp_masks(masks: MaskSet, distorted: Any, undistorted: Any, out: Path) -> int:
    """Warp each registered image's mask into the undistorted image (nearest); returns how many."""
    import cv2

    done = 0
    for image in undistorted.images.values():
        source = masks.mask_path(image.name)
        if source is None:
            continue
        original = next(im for im in distorted.images.values() if im.name == image.name)
        map_x, map_y = pixel_map(distorted.cameras[original.camera_id], undistorted.cameras[image.camera_id])
        mask = read_mask(source).astype(np.uint8)
        write_mask(out, image.name, cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST, borderValue=0))
        done += 1
    return done


def run(config: UndistortConfig, ctx: StageContext, *, ingest: IngestResult, masks: MaskSet, sfm: SfmResult,
        scale: ScaleResult) -> dict[str, Any]:
    """Undistort the registered images of the chosen (scaled) sfm model, and their masks, into ``ctx.out``."""
    import pycolmap

    from photogrammetry.sfm.colmap import colmap_errors, image_folder, quiet_colmap

    images = image_folder(ingest, ctx.out / ".images")
    names = list(sfm.summary.registered)
    with quiet_colmap(), colmap_errors("undistortion", "check that the ingest images are still in the workspace "
                                       "(rerun with --force ingest)"):
        pycolmap.undistort_images(ctx.out, scale.model, images, image_names=names, output_type="COLMAP",
                                  undistort_options=_options(config), jpeg_quality=config.jpeg_quality,
                                  num_threads=ctx.workers)
    missing = [n for n in names if not (ctx.out / "images" / n).is_file()]
    if missing:
        raise StageError(f"undistortion wrote no image for {len(missing)} of {len(names)} images "
                         f"(e.g. {missing[0]}); check that the ingest images are readable")
    model = pycolmap.Reconstruction(ctx.out / "sparse")
    if as_pinhole(model):
        model.write(ctx.out / "sparse")
    masked = warp_masks(masks, pycolmap.Reconstruction(scale.model), model, ctx.out)
    counts: dict[str, Any] = {"images": len(names), "cameras": model.num_cameras(), "masks": masked,
                              "units": scale.units}
    if config.remove_platform and masked:
        from photogrammetry.masking.platform import cut_platform

        counts["platform_removed"] = round(cut_platform(model, ctx.out / "images", ctx.out / "masks",
                                                        config.platform), 4)
        ctx.log.info("platform cut out of the masks: %.1f %% of masked pixels", 100 * counts["platform_removed"])
    save_undistort(ctx.out, tuple(names), units=scale.units)
    return counts


STAGE = StageSpec(
    name="undistort",
    version=3,
    config=UndistortConfig,
    run=run,
    load=load_undistort,
    requires=("ingest", "masks", "sfm", "scale"),
    outputs={"images": "images", "model": "sparse", "masks": "masks"},
    cost=Cost(unit="view", seconds=0.06, units_from="sfm.registered"),
    summary="Undistort the registered images to pinhole cameras for multi-view stereo.",
)
