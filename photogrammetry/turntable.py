"""Turntable captures from Python: one object, or a batch of objects shot with the same set-up.

A turntable capture is a fixed camera filming an object that turns on a platform in front of
a static background, in one or more rings (camera heights) of ``steps`` photos each, possibly
followed by a second pass with the object flipped over. :class:`Turntable` describes such a
capture and turns it into pipeline settings (the ``turntable`` preset plus overrides: masks
from the static background, ring-aware pairs, metric scale from the platform's radius, the
camera's distance to the axis or markers on the platform)::

    from photogrammetry.turntable import Turntable, run_batch

    shoe = Turntable("shoots/shoe", steps=36, rings=2, radius_mm=150.0)
    result = shoe.run("work/shoe")  # the model, upright on the platform's axis: work/shoe/output/model.glb
    print(result.folder("export"))

    # a folder per object; the first object's camera calibration is reused for the others
    for item in run_batch("shoots/", "work/", Turntable.template(steps=36, rings=2, radius_mm=150.0)):
        print(item.name, item.ok, item.error)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from photogrammetry.api import run as run_pipeline
from photogrammetry.engine.runner import RunResult
from photogrammetry.errors import ConfigError, PhotogrammetryError

log = logging.getLogger("photogrammetry.turntable")


@dataclass(frozen=True, kw_only=True)
class TurntableSpec:
    """How a turntable capture was shot; every length in millimetres."""

    steps: int = 0
    """Photos per turn of the platform (per ring); 0: all photos form one ring."""
    rings: int = 1
    """Camera heights (rings), shot one after the other."""
    flip_after: int = 0
    """Photos taken before the object was flipped over for a second pass; 0: no flip."""
    radius_mm: float = 0.0
    """Radius of the platform's top, for a metric model (the platform must be textured to its
    rim and kept by the masks, as ``background`` masks do); 0: no scale from it."""
    camera_distance_mm: float = 0.0
    """Or: horizontal distance from the camera's lens to the platform's axis (first ring). Less
    accurate: SfM's focal length error goes straight into the object's scale."""
    marker_mm: float = 0.0
    """Side of the ArUco markers on the platform, for a metric model; 0: no markers."""
    marker_dictionary: str = "DICT_4X4_50"
    """OpenCV dictionary of the markers."""
    masks: str = "background"
    """``background`` (estimated from the sequence), ``ingest`` (alpha channels), ``none``, or
    a folder of the user's masks."""
    window: int = 0
    """0: ``pairs.method=auto`` (every pair up to 27 numbered photos, retrieval and number-order
    neighbours above; on a 16-view real ring all views registered this way and 6 with ring pairs of 3
    neighbours, on our 24-view sample 0.13 deg median rotation error against 0.20); > 0: ring-aware pairs, each photo matched with
    this many neighbours on each side within its ring, across rings and across a flip (large
    captures)."""
    preset: str = "turntable"
    """Preset the settings start from."""
    extra: tuple[str, ...] = ()
    """Further ``stage.option=value`` overrides, applied last."""

    def __post_init__(self) -> None:
        if self.steps < 0 or self.rings < 1 or self.flip_after < 0 or self.window < 0:
            raise ConfigError("turntable: steps, flip_after and window must be >= 0, rings >= 1")
        sources = {"radius_mm": self.radius_mm, "camera_distance_mm": self.camera_distance_mm,
                   "marker_mm": self.marker_mm}
        if any(v < 0 for v in sources.values()):
            raise ConfigError("turntable: radius_mm, camera_distance_mm and marker_mm must be >= 0")
        if sum(1 for v in sources.values() if v) > 1:
            raise ConfigError("turntable: give one of radius_mm, camera_distance_mm or marker_mm, not several")
        if self.flip_after and (self.radius_mm or self.camera_distance_mm):
            raise ConfigError("turntable: with a flip, the platform and the cameras' circle differ between the "
                              "passes; give marker_mm for the scale instead")

    def overrides(self) -> list[str]:
        """Pipeline overrides (``stage.option=value``) for this capture."""
        out = ["pairs.method=auto"]
        if self.window:
            out = ["pairs.method=turntable", f"pairs.ring_size={self.steps}", f"pairs.flip_after={self.flip_after}",
                   f"pairs.window={self.window}"]
        if self.flip_after:
            out.append("undistort.remove_platform=false")  # the flipped pass has another platform plane
            out.append(f"export.frame.views={self.flip_after}")  # the axis of the first pass's cameras
        if self.masks in ("background", "ingest", "none"):
            out.append(f"masks.method={self.masks}")
        else:
            out += ["masks.method=folder", f"masks.folder={Path(self.masks).expanduser().resolve()}"]
        if self.radius_mm:
            out += ["scale.method=platform", f"scale.radius_mm={self.radius_mm}"]
        elif self.camera_distance_mm:
            out += ["scale.method=radius", f"scale.radius_mm={self.camera_distance_mm}",
                    f"scale.ring_size={self.steps}"]
        elif self.marker_mm:
            out += ["scale.method=marker", f"scale.marker.marker_mm={self.marker_mm}",
                    f"scale.marker.dictionary={self.marker_dictionary}"]
        return [*out, *self.extra]


@dataclass(frozen=True)
class Turntable(TurntableSpec):
    """One object's turntable capture: its photos (positional) and how they were shot (keywords)."""

    photos: Path
    """Folder of the object's photos (names sort in capture order)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "photos", Path(self.photos))
        super().__post_init__()

    @staticmethod
    def template(**spec: object) -> TurntableSpec:
        """A capture description without photos, for :func:`run_batch`."""
        return TurntableSpec(**spec)

    def expected_photos(self) -> int | None:
        """Photos the description implies (``steps * rings``, doubled by a flip), ``None`` if unknown."""
        if not self.steps:
            return None
        return self.steps * self.rings * (2 if self.flip_after else 1)

    def run(self, workspace: str | os.PathLike, *, until: str | None = None, overrides: Sequence[str] = (),
            device: str = "auto", workers: int | None = None, progress: bool | None = None) -> RunResult:
        """Run the pipeline on this capture into ``workspace`` (cached and resumable as usual)."""
        count = sum(1 for p in self.photos.rglob("*") if p.is_file() and not p.name.startswith("."))
        expected = self.expected_photos()
        if expected is not None and expected != count:
            log.warning("%s: %d files, but steps x rings%s = %d photos", self.photos, count,
                        " x 2 (flip)" if self.flip_after else "", expected)
        return run_pipeline(self.photos, workspace, preset=self.preset, overrides=[*self.overrides(), *overrides],
                            until=until, device=device, workers=workers, progress=progress)


@dataclass(frozen=True, kw_only=True)
class BatchItem:
    """The outcome of one object of a batch."""

    name: str
    """The object's folder name."""
    workspace: Path
    """Its workspace."""
    result: RunResult | None = None
    """What ran, when it succeeded."""
    error: str | None = None
    """Why it failed, when it did."""
    calibration: Path | None = None
    """The model whose cameras it reused (``None`` for the first object)."""

    @property
    def ok(self) -> bool:
        """Whether the object's pipeline finished."""
        return self.error is None


def _calibration_overrides(model: Path) -> list[str]:
    return [f"sfm.calibration={model}", "sfm.refine_focal_length=false", "sfm.refine_extra_params=never",
            "sfm.refine_principal_point=never"]


def run_batch(root: str | os.PathLike, workspaces: str | os.PathLike, spec: TurntableSpec, *,
              reuse_calibration: bool = True, until: str | None = None, overrides: Sequence[str] = (),
              device: str = "auto", workers: int | None = None) -> Iterator[BatchItem]:
    """Run every object folder of ``root`` (sorted by name) into ``workspaces/<folder name>``.

    With ``reuse_calibration``, the first object that reconstructs gives its camera calibration
    to the others (fixed in their bundle adjustment). A failing object is reported and the
    batch goes on.

    Yields:
        One :class:`BatchItem` per object folder, as it finishes.
    """
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise ConfigError(f"{root}: no object folders (expected one sub-folder of photos per object)")
    calibration: Path | None = None
    for folder in folders:
        extra = [*overrides, *(_calibration_overrides(calibration) if calibration else [])]
        capture = Turntable(folder, **{f.name: getattr(spec, f.name) for f in dataclasses.fields(TurntableSpec)})
        workspace = Path(workspaces) / folder.name
        try:
            result = capture.run(workspace, until=until, overrides=extra, device=device, workers=workers)
        except PhotogrammetryError as e:
            log.error("%s failed: %s", folder.name, e)
            yield BatchItem(name=folder.name, workspace=workspace, error=str(e), calibration=calibration)
            continue
        yield BatchItem(name=folder.name, workspace=workspace, result=result, calibration=calibration)
        if reuse_calibration and calibration is None and any(s.name == "sfm" for s in result.stages):
            calibration = result.folder("sfm") / "model"
