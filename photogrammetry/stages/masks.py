"""Masks: which pixels of each photo show the object, for every later stage.

Methods are listed in :data:`photogrammetry.masking.MASK_METHODS`: ``ingest`` (the photos'
alpha channels, the default), ``folder`` (the user's masks), ``background`` (estimated from a
fixed camera's sequence: turntables) or ``none``. Writes ``masks/<image name>.png`` (255 =
object) and ``masks.json`` (:class:`~photogrammetry.masking.MaskSet`). Features are detected
only inside the masks, and the undistort stage warps them for depth, fusion, mesh and texture.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.ingest import ImageRecord, IngestResult
from photogrammetry.masking import MASK_METHODS, load_mask_set, save_mask_set
from photogrammetry.masking.background import BackgroundOptions
from photogrammetry.masking.result import mask_file, read_mask, write_mask


@dataclass(frozen=True, kw_only=True)
class MasksConfig:
    """Settings of the masks stage."""

    method: str = field(default="ingest", metadata={"choices": MASK_METHODS})
    """One of :data:`~photogrammetry.masking.MASK_METHODS`: ``ingest`` (alpha channels),
    ``folder`` (``masks.folder``), ``background`` (turntables: static background) or ``none``."""
    folder: str = field(default="", metadata={"cache": False, "path": "dir"})
    """Folder method: where the user's masks are (``<name>.png``, ``<stem>.png`` or
    ``<stem>_mask.png``, white = object). Their content, not the path, enters the key."""
    background: BackgroundOptions = field(default_factory=BackgroundOptions)
    """Background method: how the static background and the object are told apart."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        "method": "method", **{f"background.{name}": name for name in (
            "work_size", "tolerance", "stable_fraction", "threshold", "min_area", "grabcut_iterations")}}
    """The flat names these options had in the cache key before they were nested (stage version 1)."""

    def __post_init__(self) -> None:
        if self.method not in MASK_METHODS:
            raise ConfigError(f"masks.method: unknown {self.method!r}; choose one of: {', '.join(MASK_METHODS)}")
        if self.method == "folder" and not self.folder:
            raise ConfigError("masks.method=folder needs masks.folder=PATH (a folder of <image name>.png masks)")


def fingerprint(config: MasksConfig, photos: Path) -> dict[str, Any] | None:
    """The user's mask files' content (folder method only)."""
    if config.method != "folder":
        return None
    from photogrammetry.masking.folder import folder_fingerprint

    return folder_fingerprint(Path(config.folder).expanduser())


def _from_ingest(ingest: IngestResult, out: Path) -> dict[str, str | None]:
    files: dict[str, str | None] = {}
    for record in ingest.images:
        source = ingest.mask_path(record)
        files[record.name] = None
        if source is not None and source.is_file():
            (out / mask_file(record.name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / mask_file(record.name))
            files[record.name] = mask_file(record.name)
    return files


def _from_folder(config: MasksConfig, ingest: IngestResult, ctx: StageContext) -> dict[str, str | None]:
    from photogrammetry.masking.folder import find_mask, read_user_mask

    folder = Path(config.folder).expanduser()
    files: dict[str, str | None] = {}
    for record in ingest.images:
        found = find_mask(folder, record.name)
        files[record.name] = None if found is None else write_mask(
            ctx.out, record.name, read_user_mask(found, record.width, record.height))
    missing = [n for n, f in files.items() if f is None]
    if len(missing) == len(files):
        raise InputError(f"masks folder {folder.resolve()} has no mask for any image (looked for e.g. "
                         f"{folder / mask_file(ingest.images[0].name)[len('masks/'):]})")
    if missing:
        ctx.log.warning("%d image(s) have no mask in %s and use every pixel, e.g. %s", len(missing), folder, missing[0])
    return files


def _from_background(config: MasksConfig, ingest: IngestResult, ctx: StageContext) -> dict[str, str | None]:
    from photogrammetry.masking.background import background_masks

    groups: dict[tuple[int, int, int], list[ImageRecord]] = defaultdict(list)
    for record in ingest.images:
        groups[(record.camera_id, record.width, record.height)].append(record)
    files: dict[str, str | None] = {}
    for records in ctx.track(groups.values(), total=len(groups), unit="camera"):
        if len(records) < 3:
            raise InputError(f"masks.method=background needs at least 3 photos from one fixed camera; camera "
                             f"{records[0].camera_id} has {len(records)}; use masks.method=folder or none")
        todo = [r for r in records if not (ctx.out / mask_file(r.name)).is_file()]
        if todo:
            masks = background_masks([ingest.image_path(r) for r in records], config.background)
            for record, mask in zip(records, masks, strict=True):
                write_mask(ctx.out, record.name, mask)
        files.update({r.name: mask_file(r.name) for r in records})
    return files


def run(config: MasksConfig, ctx: StageContext, *, ingest: IngestResult) -> dict[str, Any]:
    """Write the masks of ``ingest``'s images into ``ctx.out``."""
    if config.method == "none":
        files: dict[str, str | None] = {r.name: None for r in ingest.images}
    elif config.method == "ingest":
        files = _from_ingest(ingest, ctx.out)
    elif config.method == "folder":
        files = _from_folder(config, ingest, ctx)
    else:
        files = _from_background(config, ingest, ctx)
    save_mask_set(ctx.out, config.method, files)
    coverage = [float(read_mask(ctx.out / rel).mean()) for rel in files.values() if rel]
    ctx.log.info("%s: %d of %d images masked", config.method, len(coverage), len(files))
    return {"images": len(files), "masked": len(coverage), "method": config.method,
            "mean_coverage": round(float(np.mean(coverage)), 4) if coverage else 0.0}


STAGE = StageSpec(
    name="masks",
    version=1,
    config=MasksConfig,
    run=run,
    load=load_mask_set,
    requires=("ingest",),
    fingerprint=fingerprint,
    outputs={"masks": "masks"},
    summary="Object masks: from alpha channels, a folder, or a turntable's static background.",
)
