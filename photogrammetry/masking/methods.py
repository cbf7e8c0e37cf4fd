"""The registry of mask methods: the one list that ``masks.method`` choices come from.

Each :class:`MaskMethod` writes the masks of a set of ingested images into a folder
(``masks/<image name>.png``, 255 = object) and returns, per image name, the mask file relative to
that folder (or ``None`` for an image without one). The ``masks`` stage builds a
:class:`MaskRequest` and calls the entry its ``method`` names.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.ingest import ImageRecord, IngestResult
from photogrammetry.masking.background import BackgroundOptions
from photogrammetry.io.masks import mask_file, write_mask

MaskFiles = dict[str, str | None]
"""Image name -> mask file relative to the output folder, or ``None``."""


class MaskSettings(Protocol):
    """The options a mask method reads (the ``masks`` stage's config has them)."""

    @property
    def folder(self) -> str:
        """Folder of the user's masks (``folder`` method)."""

    @property
    def background(self) -> BackgroundOptions:
        """Options of the ``background`` method."""


def _untracked(iterable: Iterable[Any], *, total: int | None = None, unit: str = "item") -> Iterator[Any]:
    return iter(iterable)


@dataclass(frozen=True, kw_only=True)
class MaskRequest:
    """What a mask method works on."""

    ingest: IngestResult
    """The ingested images (and their alpha masks)."""
    out: Path
    """Folder the masks are written into."""
    settings: MaskSettings
    """The method's options."""
    log: logging.Logger = logging.getLogger("photogrammetry.masking")
    """Where warnings go."""
    track: Callable[..., Iterable[Any]] = field(default=_untracked)
    """``track(iterable, total=, unit=)``: progress over the cameras of the ``background`` method."""


def _none(request: MaskRequest) -> MaskFiles:
    return {r.name: None for r in request.ingest.images}


def _from_ingest(request: MaskRequest) -> MaskFiles:
    ingest, out = request.ingest, request.out
    files: MaskFiles = {}
    for record in ingest.images:
        source = ingest.mask_path(record)
        files[record.name] = None
        if source is not None and source.is_file():
            (out / mask_file(record.name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / mask_file(record.name))
            files[record.name] = mask_file(record.name)
    return files


def _from_folder(request: MaskRequest) -> MaskFiles:
    from photogrammetry.masking.folder import find_mask, read_user_mask

    ingest, folder = request.ingest, Path(request.settings.folder).expanduser()
    files: MaskFiles = {}
    for record in ingest.images:
        found = find_mask(folder, record.name)
        files[record.name] = None if found is None else write_mask(
            request.out, record.name, read_user_mask(found, record.width, record.height))
    missing = [n for n, f in files.items() if f is None]
    if len(missing) == len(files):
        raise InputError(f"masks folder {folder.resolve()} has no mask for any image (looked for e.g. "
                         f"{folder / mask_file(ingest.images[0].name)[len('masks/'):]})")
    if missing:
        request.log.warning("%d image(s) have no mask in %s and use every pixel, e.g. %s", len(missing), folder,
                            missing[0])
    return files


def _from_background(request: MaskRequest) -> MaskFiles:
    from photogrammetry.masking.background import background_masks

    ingest, out = request.ingest, request.out
    groups: dict[tuple[int, int, int], list[ImageRecord]] = defaultdict(list)
    for record in ingest.images:
        groups[(record.camera_id, record.width, record.height)].append(record)
    files: MaskFiles = {}
    for records in request.track(groups.values(), total=len(groups), unit="camera"):
        if len(records) < 3:
            raise InputError(f"masks.method=background needs at least 3 photos from one fixed camera; camera "
                             f"{records[0].camera_id} has {len(records)}; use masks.method=folder or none")
        todo = [r for r in records if not (out / mask_file(r.name)).is_file()]
        if todo:
            masks = background_masks([ingest.image_path(r) for r in records], request.settings.background)
            for record, mask in zip(records, masks, strict=True):
                write_mask(out, record.name, mask)
        files.update({r.name: mask_file(r.name) for r in records})
    return files


@dataclass(frozen=True, kw_only=True)
class MaskMethod:
    """One entry of :data:`MASK_METHODS`."""

    name: str
    """Registry name, as given to ``masks.method``."""
    summary: str
    """One line for help texts."""
    make: Callable[[MaskRequest], MaskFiles]
    """``make(request)`` -> the masks written, by image name."""
    needs_folder: bool = False
    """Whether it reads the user's folder (``masks.folder``; its files' content enters the key)."""


MASK_METHODS: dict[str, MaskMethod] = {m.name: m for m in (
    MaskMethod(name="none", summary="no masks: every pixel is used", make=_none),
    MaskMethod(name="ingest", summary="masks from the photos' alpha channels (as ingest wrote them)",
               make=_from_ingest),
    MaskMethod(name="folder", summary="the user's masks from a folder (<name>.png, <stem>.png or <stem>_mask.png; "
               "white = object)", make=_from_folder, needs_folder=True),
    MaskMethod(name="background", summary="moving object in front of a static background, estimated from the "
               "sequence (turntables)", make=_from_background),
)}
"""All mask methods, by name: the choices of ``masks.method``."""


def mask_method(name: str) -> MaskMethod:
    """The registry entry called ``name``, or an error naming the option and the choices."""
    if name not in MASK_METHODS:
        raise ConfigError(f"masks.method: unknown {name!r}; choose one of: {', '.join(MASK_METHODS)}")
    return MASK_METHODS[name]
