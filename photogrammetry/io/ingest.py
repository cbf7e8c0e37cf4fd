"""The ingest artifact: the photos as the pipeline sees them, their cameras and what was skipped.

Files in ``<workspace>/ingest/<key>/``: ``images/<name>``, ``masks/<name>.png``,
``images.json`` (list of :class:`ImageRecord`), ``cameras.json`` (list of
:class:`CameraGroup`) and ``report.json`` (:class:`IngestReport`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photogrammetry.io.jsonio import read_json, write_json


@dataclass(frozen=True, kw_only=True)
class ImageRecord:
    """One usable photo."""

    name: str
    """Stable image name: the photo's path relative to the photo folder, with ``/`` separators."""
    file: str
    """Path of the prepared image relative to the artifact folder (``images/...``)."""
    source: str
    """Absolute path of the original photo."""
    camera_id: int
    """Id of the :class:`CameraGroup` the photo belongs to."""
    width: int
    """Width of the prepared image in pixels (after orientation and downscaling)."""
    height: int
    """Height of the prepared image in pixels."""
    scale: float
    """Prepared size / oriented original size (1.0 when not downscaled)."""
    orientation: int
    """EXIF orientation that was applied (1 = none)."""
    focal_px: float | None
    """Focal length prior in pixels of the prepared image, from EXIF; ``None`` when unknown."""
    focal_source: str
    """Where the prior came from: ``exif_focal_plane``, ``exif_35mm`` or ``none``."""
    make: str | None
    """EXIF camera maker."""
    model: str | None
    """EXIF camera body."""
    lens: str | None
    """EXIF lens model."""
    focal_mm: float | None
    """EXIF focal length in millimetres."""
    sha256: str
    """Hash of the original file's bytes (of a video frame: of the prepared image's bytes)."""
    mask: str | None
    """Path of a mask (255 = object) relative to the artifact folder, from the photo's alpha."""
    video: str | None = None
    """For a frame sampled from a video: the video's path relative to the photo folder; else ``None``."""
    frame: int | None = None
    """For a video frame: its frame number in the video, from 0."""
    capture_time: str | None = None
    """When the photo was taken, from EXIF (``DateTimeOriginal``, ``SubSecTimeOriginal``), ISO 8601
    on the camera's clock (``2024-05-01T12:00:00.250000``); ``None`` when unknown (video frames)."""


@dataclass(frozen=True, kw_only=True)
class CameraGroup:
    """Photos that share one set of intrinsics (same size, body, lens and focal length)."""

    camera_id: int
    """1-based id."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""
    focal_px: float | None
    """Median focal prior of the members in pixels, ``None`` when none has one."""
    focal_source: str
    """Source of the members' priors (``none`` if absent)."""
    make: str | None
    """Camera maker."""
    model: str | None
    """Camera body."""
    lens: str | None
    """Lens model."""
    images: tuple[str, ...]
    """Names of the member images."""


@dataclass(frozen=True, kw_only=True)
class SkippedFile:
    """An input file that was not used, and why."""

    file: str
    """Path relative to the photo folder."""
    reason: str
    """What was wrong and what to do about it."""


@dataclass(frozen=True, kw_only=True)
class IngestReport:
    """What ingest left out."""

    skipped: tuple[SkippedFile, ...]
    """Unreadable or non-image files."""
    duplicates: tuple[tuple[str, ...], ...]
    """Groups of byte-identical photos; all but the first are left out when asked."""


@dataclass(frozen=True)
class IngestResult:
    """The ingest artifact, loaded."""

    root: Path
    """Artifact folder."""
    images: tuple[ImageRecord, ...]
    """Usable photos, sorted by name."""
    cameras: tuple[CameraGroup, ...]
    """Camera groups, by id."""
    report: IngestReport
    """Skipped files and duplicates."""

    def image_path(self, image: ImageRecord) -> Path:
        """Absolute path of a prepared image."""
        return self.root / image.file

    def mask_path(self, image: ImageRecord) -> Path | None:
        """Absolute path of the image's mask, if it has one."""
        return self.root / image.mask if image.mask else None


def save_ingest(folder: Path, images: list[ImageRecord], cameras: list[CameraGroup], report: IngestReport) -> None:
    """Write the JSON files of an ingest artifact."""
    write_json(folder / "images.json", images)
    write_json(folder / "cameras.json", cameras)
    write_json(folder / "report.json", report)


def load_ingest(folder: Path) -> IngestResult:
    """Read an ingest artifact folder."""
    images = tuple(ImageRecord(**r) for r in read_json(folder / "images.json"))
    cameras = tuple(CameraGroup(**{**c, "images": tuple(c["images"])}) for c in read_json(folder / "cameras.json"))
    raw = read_json(folder / "report.json")
    report = IngestReport(
        skipped=tuple(SkippedFile(**s) for s in raw["skipped"]),
        duplicates=tuple(tuple(d) for d in raw["duplicates"]),
    )
    return IngestResult(root=folder, images=images, cameras=cameras, report=report)
