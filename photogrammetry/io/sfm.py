"""The sfm artifact: COLMAP models, their exports, and the typed result.

Files in ``<workspace>/sfm/<key>/``:

- ``model/``: the chosen (largest) model, COLMAP binary (``cameras.bin``, ``images.bin``,
  ``points3D.bin``, ``rigs.bin``, ``frames.bin``); ``model_text/``: the same as text;
- ``models/<i>/``: every model found, binary, ``0`` being the chosen one, then by size;
- ``points.ply``: the chosen model's 3D points with colours;
- ``transforms.json``: nerfstudio's camera file for the chosen model (OpenGL camera axes,
  ``camera_to_world``, original world frame; ``file_path`` of each frame points at the ingest
  artifact's image, relative to this folder, e.g. ``../../ingest/<key>/images/<name>``);
- ``database.db``: the COLMAP database (keypoints, matches, two-view geometries);
- ``sfm.json``: :class:`SfmSummary`.

Poses are COLMAP's ``cam_from_world`` in the arbitrary units of SfM (the scale artifact,
:mod:`photogrammetry.io.scale`, may turn them into metres).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photogrammetry.io.jsonio import read_json, write_json

SUMMARY_FILE = "sfm.json"
"""Name of the sfm artifact's summary."""


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """One model (connected reconstruction) found by the mapper."""

    path: str
    """Folder of the model relative to the artifact (``models/<i>``)."""
    num_images: int
    """Registered images."""
    num_points: int
    """3D points."""
    mean_reprojection_error: float
    """Mean reprojection error in pixels."""


@dataclass(frozen=True, kw_only=True)
class LensCheck:
    """What the photos' straight edges said about a camera's lens distortion (:mod:`photogrammetry.sfm.plumb`,
    ``sfm.plumb``), asked where the final adjustment could not choose between the distortion held and free
    by the reprojection error (a walk straight ahead whose free fit moves the focal length by more than
    ``refinement.distortion_max_focal_change``). Distortions are *corner shifts*: the fraction by which the
    lens moves the farthest image corner towards (-) or away from (+) the principal point."""

    corner_shift: float | None
    """The lines' distortion; ``None`` where nothing was measured."""
    corner_shift_sd: float | None
    """Its standard deviation (bootstrap over the photos); ``None`` where nothing was measured."""
    radius_px: float
    """The farthest corner's distance from the principal point, pixels (a corner shift times it: pixels)."""
    lines: int
    """Straight scene edges used (chains of line segments)."""
    photos: int
    """Photos with at least one such edge."""
    reason: str
    """Why the lines are no evidence (too few lines or photos, too large a spread, ...); '' where they are."""
    free_corner_shift: float
    """The distortion of the fit with it free."""
    held_corner_shift: float
    """The distortion of the fit with it held (its starting value: 0 without a calibration)."""
    sides_with: str
    """``free`` or ``held``: the fit the lines lie nearer and whose other fit they rule out; ``neither``
    where they tell the two apart less well (or are no evidence)."""
    decided: bool
    """Whether the lines decided the distortion kept: the free fit, where they side with it for every camera;
    else the reprojection-error rule decided (the distortion scaled down, or held)."""


@dataclass(frozen=True, kw_only=True)
class CameraInfo:
    """One camera of the chosen model: its final intrinsics and where its focal length came from."""

    camera_id: int
    """COLMAP camera id."""
    model: str
    """COLMAP camera model."""
    width: int
    """Image width in pixels (of the ingest's prepared images)."""
    height: int
    """Image height in pixels."""
    images: int
    """Registered images that use this camera."""
    focal_px: float
    """Final focal length in pixels (the mean of fx and fy for two-focal models)."""
    focal_source: str
    """Where its starting value came from: ``exif``, ``user`` (``sfm.focal_px`` / ``sfm.fov_deg``),
    ``calibration`` (``sfm.calibration``) or ``estimated`` (no prior: COLMAP's guess, refined)."""
    focal_prior_px: float | None
    """The prior in pixels (EXIF's or the user's), ``None`` when there was none."""
    focal_sd_px: float | None
    """Standard deviation of the focal length from the final bundle adjustment's covariance,
    pixels; ``None`` when it could not be computed."""
    extra_params: tuple[float, ...]
    """Distortion parameters in COLMAP's order for ``model`` (zeros where they were held)."""
    focal_other_px: float | None = None
    """The focal length of the final adjustment's other lens-distortion fit (free where the distortion
    was held, held where it was refined): where the two differ, the views leave the focal length to the
    lens, whatever ``focal_sd_px`` says; ``None`` where only one was fitted."""
    lens_check: LensCheck | None = None
    """The photos' straight lines on the lens distortion, where the final adjustment asked them; ``None``
    where it did not (or in artifacts written before sfm stage 18)."""


@dataclass(frozen=True, kw_only=True)
class WeakLink:
    """A part of the chosen model tied to the rest by few 3D points (:mod:`photogrammetry.sfm.links`)."""

    images: tuple[str, ...]
    """Names of the images on the smaller side."""
    points: int
    """3D points seen from both sides."""
    other_images: int
    """Images on the larger side."""


@dataclass(frozen=True, kw_only=True)
class PoseCheck:
    """The chosen model's relative rotations against the verified pairs' own (:mod:`photogrammetry.sfm.sanity`)."""

    median_deg: float | None
    """Median over the verified pairs of the angle between the model's relative rotation and the pair's
    calibrated two-view estimate, degrees; ``None`` where too few pairs had one (the model passes)."""
    pairs: int
    """Pairs compared."""
    limit_deg: float
    """``sfm.sanity.max_rotation_deg``: the most ``median_deg`` may be."""
    passed: bool
    """Whether the chosen model passed (``median_deg`` within ``limit_deg``, or too few pairs)."""
    runs: tuple[str, ...] = ()
    """One line per mapping checked where the first failed (seed, images, median), the chosen one marked."""


@dataclass(frozen=True, kw_only=True)
class SfmSummary:
    """What the sfm stage did, in ``sfm.json``."""

    mapper: str
    """Mapper that made the chosen model: ``incremental`` or ``global``."""
    attempts: tuple[str, ...]
    """Every mapping attempt with its outcome, in order (for the log and ``status``)."""
    models: tuple[ModelInfo, ...]
    """All models, largest first; the first is the chosen one."""
    registered: tuple[str, ...]
    """Names of the images in the chosen model."""
    unregistered: tuple[str, ...]
    """Names of the images not in the chosen model (some may be in the other models)."""
    verified_pairs: int
    """Image pairs that passed geometric verification."""
    principal_point_refined: bool
    """Whether the final bundle adjustment kept a refined principal point."""
    distortion_refined: bool = False
    """Whether the final bundle adjustment kept refined distortion parameters."""
    cameras: tuple[CameraInfo, ...] = ()
    """The chosen model's cameras."""
    forward_motion: float | None = None
    """How much the cameras move along their viewing direction, 0 (sideways) to 1 (straight ahead):
    the median ``|cos|`` of the angle between each optical axis and the step to the nearest camera."""
    weak_links: tuple[WeakLink, ...] | None = None
    """Parts of the chosen model tied to the rest by fewer than ``sfm.weak_link_points`` 3D points,
    weakest first (the model is kept as it is); ``None`` in artifacts written before the check."""
    pose_check: PoseCheck | None = None
    """The chosen model's rotations against the verified pairs' (``sfm.sanity``); ``None`` where not checked."""


@dataclass(frozen=True)
class SfmResult:
    """The sfm artifact, loaded."""

    root: Path
    """Artifact folder."""
    summary: SfmSummary
    """Contents of ``sfm.json``."""

    @property
    def model(self) -> Path:
        """Folder of the chosen model (COLMAP binary)."""
        return self.root / "model"

    @property
    def models(self) -> tuple[Path, ...]:
        """Folders of all models, the chosen one first."""
        return tuple(self.root / m.path for m in self.summary.models)

    @property
    def database(self) -> Path:
        """The COLMAP database."""
        return self.root / "database.db"


def save_sfm_summary(folder: Path, summary: SfmSummary) -> None:
    """Write ``sfm.json``."""
    write_json(folder / SUMMARY_FILE, summary)


def _camera_info(raw: dict) -> CameraInfo:
    """A :class:`CameraInfo` from its JSON form."""
    check = raw.get("lens_check")
    return CameraInfo(**{**raw, "extra_params": tuple(raw["extra_params"]),
                         "lens_check": None if check is None else LensCheck(**check)})


def load_sfm(folder: Path) -> SfmResult:
    """Read an sfm artifact folder."""
    raw = read_json(folder / SUMMARY_FILE)
    summary = SfmSummary(
        mapper=raw["mapper"], attempts=tuple(raw["attempts"]),
        models=tuple(ModelInfo(**m) for m in raw["models"]),
        registered=tuple(raw["registered"]), unregistered=tuple(raw["unregistered"]),
        verified_pairs=raw["verified_pairs"], principal_point_refined=raw["principal_point_refined"],
        distortion_refined=raw.get("distortion_refined", False),
        cameras=tuple(_camera_info(c) for c in raw.get("cameras", ())),
        forward_motion=raw.get("forward_motion"),
        weak_links=None if raw.get("weak_links") is None else tuple(
            WeakLink(**{**w, "images": tuple(w["images"])}) for w in raw["weak_links"]),
        pose_check=None if raw.get("pose_check") is None else PoseCheck(
            **{**raw["pose_check"], "runs": tuple(raw["pose_check"].get("runs", ()))}),
    )
    return SfmResult(root=folder, summary=summary)

