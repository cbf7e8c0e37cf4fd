"""Ingest: read the photos, apply EXIF orientation, derive focal priors, group cameras.

Reads JPEG, PNG (8/16-bit, grey, alpha), TIFF (and whatever else OpenCV decodes) and HEIC/HEIF.
Each photo becomes an 8-bit BGR image in the artifact: copied byte for byte when nothing changes,
re-encoded otherwise (JPEG stays JPEG, HEIC becomes JPEG, other formats PNG). An alpha channel
becomes a mask. Video files (:data:`~photogrammetry.io.video.VIDEO_SUFFIXES`) in the folder, or
given instead of it, are sampled into frames ``<video stem>_<frame number>.jpg`` (see
:mod:`photogrammetry.io.video`). Unreadable photos (truncated JPEGs included) are skipped with a
warning naming each; an unreadable video stops the run. Byte-identical photos are reported.
Resumes file by file after an interruption.
"""

from __future__ import annotations

import hashlib
import logging
import os
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import cv2
import numpy as np

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.engine.workspace import WORKSPACE_MARKER
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io import photos
from photogrammetry.io.ingest import (CameraGroup, ImageRecord, IngestReport, SkippedFile, load_ingest,
                                      save_ingest)
from photogrammetry.io.jsonio import write_bytes_atomic
from photogrammetry.io.video import VIDEO_SUFFIXES, FrameSampler, VideoOptions, is_video

_JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe")


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    """Settings of the ingest stage."""

    max_image_size: int = 0
    """Longest image side in pixels after downscaling; 0 keeps the photos' full size."""
    camera_grouping: Literal["auto", "single", "per_folder", "per_image"] = "auto"
    """``auto``: one camera per (size, body, lens, focal length); ``single``: one for all
    photos (they must share a size); ``per_folder``: ``auto`` within each sub-folder;
    ``per_image``: one camera per photo."""
    drop_duplicates: bool = True
    """Leave out all but the first of byte-identical photos (they add no geometry)."""
    alpha_as_mask: bool = True
    """Turn a photo's alpha channel into an object mask used by later stages."""
    jpeg_quality: int = 95
    """Quality of JPEGs that must be re-encoded (rotated or downscaled, HEIC, video frames)."""
    video: VideoOptions = field(default_factory=VideoOptions)
    """How video files are sampled into frames (``--video-fps`` sets ``video.fps`` and ``interval`` sampling)."""

    KEY_NAMES: ClassVar[dict[str, str]] = {name: name for name in (
        "max_image_size", "camera_grouping", "drop_duplicates", "alpha_as_mask", "jpeg_quality")}
    """The options of stage version 2 before videos were read: the video options enter the cache key
    only when changed, so that caches of photo folders stay valid."""

    def __post_init__(self) -> None:
        if self.max_image_size < 0 or 0 < self.max_image_size < 64:
            raise ConfigError(f"ingest.max_image_size must be 0 (full size) or >= 64, got {self.max_image_size}")
        if not 50 <= self.jpeg_quality <= 100:
            raise ConfigError(f"ingest.jpeg_quality must be within 50..100, got {self.jpeg_quality}")


def _photo_files(photo_dir: Path) -> tuple[Path, list[tuple[Path, str]]]:
    """The resolved photo folder and its files as ``(path, name relative to it)``; a video file
    given instead of a folder is the only file of its folder."""
    if photo_dir.is_file():
        if not is_video(photo_dir):
            raise InputError(f"PHOTOS {photo_dir} is a file; give a folder of photos or a video file "
                             f"({', '.join(VIDEO_SUFFIXES)})")
        path = photo_dir.resolve()
        return path.parent, [(path, path.name)]
    if not photo_dir.is_dir():
        raise InputError(f"PHOTOS {photo_dir} is neither a folder nor a file (a device, pipe or socket); give a "
                         "folder of photos or a video file")
    root = photo_dir.resolve()
    if (root / WORKSPACE_MARKER).exists():
        raise InputError(f"the photo folder {root} is marked as a workspace ({WORKSPACE_MARKER}); use another "
                         "workspace folder (a sub-folder of the photos is fine) and delete that marker file")
    return root, [(p, p.relative_to(root).as_posix()) for p in photos.list_files(root, WORKSPACE_MARKER)]


VIDEO_SAMPLING = 2
"""Version of the frame sampling; it enters the key of inputs that hold a video (2: ``motion`` sampling
is the default)."""


def fingerprint(config: IngestConfig, photo_dir: Path) -> dict[str, Any]:
    """The input files as they are now: relative path, size and modification time of each (and
    the version of the frame sampling when there are videos, which stage version 2 skipped). A folder
    without any file is refused here, so that the run stops before it writes anything."""
    root, listed = _photo_files(photo_dir)
    if not listed:  # refused before the run writes anything
        raise InputError(_too_few(root, 0, 0, [], []))
    files = []
    for path, rel in listed:
        try:
            st = path.stat()
            files.append((photos.printable_name(rel), st.st_size, st.st_mtime_ns))
        except OSError:  # a broken link: ingest reports it
            files.append((photos.printable_name(rel), None, None))
    videos = {"video_sampling": VIDEO_SAMPLING} if any(is_video(path) for path, _ in listed) else {}
    return {"root": str(root), "files": files, **videos}


def _output_name(rel: str) -> str:
    """Prepared image name: JPEG and PNG keep theirs, HEIC/HEIF get ``.jpg`` appended, others ``.png``."""
    if rel.lower().endswith((".heic", ".heif")):
        return f"{rel}.jpg"
    return rel if rel.lower().endswith((*_JPEG_SUFFIXES, ".png")) else f"{rel}.png"


def _encode(bgr: np.ndarray, name: str, quality: int) -> bytes:
    if name.lower().endswith(_JPEG_SUFFIXES):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise InputError(f"could not encode {name}")
    return buf.tobytes()


def _decode(path: Path) -> tuple[bytes, photos.ExifInfo, np.ndarray] | str:
    """The photo's bytes, EXIF and upright pixels, or why it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"cannot be read ({e.strerror}); check that it exists and its permissions"
    if not data:
        return "empty file (0 bytes); copy it again from the camera"
    if photos.is_jpeg(data) and not photos.jpeg_complete(data):
        return "truncated JPEG (it ends before its end-of-image marker); copy it again from the camera"
    if photos.is_heif(data):
        upright, exif = photos.decode_heif(data)
    else:
        exif = photos.read_exif(data)
        upright = photos.decode_upright(data, exif.orientation)
    if upright is None:
        return photos.unsupported_hint(path) or "not a readable image (corrupt, truncated or not a photo)"
    return data, exif, upright


def _write_mask(alpha: np.ndarray | None, name: str, config: IngestConfig, out: Path) -> str | None:
    """Write the mask of an upright ``(H, W)`` alpha channel when it has transparent pixels."""
    if alpha is None or not config.alpha_as_mask or not (alpha < 128).any():
        return None
    alpha, _ = photos.downscale(alpha, config.max_image_size)
    mask = f"masks/{name}.png"
    write_bytes_atomic(out / mask, _encode(np.where(alpha >= 128, 255, 0).astype(np.uint8), mask, 0))
    return mask


def _prepare(path: Path, rel: str, config: IngestConfig, out: Path) -> dict[str, Any]:
    """Decode, orient, downscale and write one photo; a record or ``{"skipped": reason}``."""
    decoded = _decode(path)
    if isinstance(decoded, str):
        return {"skipped": decoded}
    data, exif, upright = decoded
    focal, focal_source = photos.focal_prior_px(exif, upright.shape[1], upright.shape[0])
    # 8-bit pixels shrunk before the conversion to colour give the same pixels, without a full-size colour
    # copy (a 20000 x 15000 grey photo: 900 MB less, 1.1 s instead of 2.2 s); others are rounded to 8 bits first
    shrunk, scale = photos.downscale(upright, config.max_image_size) if upright.dtype == np.uint8 else (upright, 1.0)
    bgr, alpha = photos.to_bgr8(shrunk)
    if bgr is None:
        return {"skipped": photos.unsupported_pixels(upright)}
    if shrunk is upright:
        bgr, scale = photos.downscale(bgr, config.max_image_size)
    name = _output_name(rel)
    unchanged = (exif.orientation in (None, 1) and scale == 1.0 and upright.dtype == np.uint8
                 and upright.ndim == 3 and upright.shape[2] == 3 and name == rel)
    write_bytes_atomic(out / "images" / name, data if unchanged else _encode(bgr, name, config.jpeg_quality))
    mask = _write_mask(alpha, name, config, out)
    return {"record": dict(
        name=rel, file=f"images/{name}", source=str(path), width=bgr.shape[1], height=bgr.shape[0],
        scale=scale, orientation=exif.orientation or 1, focal_px=focal * scale if focal else None,
        focal_source=focal_source, make=exif.make, model=exif.model, lens=exif.lens,
        focal_mm=exif.focal_mm, sha256=hashlib.sha256(data).hexdigest(), mask=mask, capture_time=exif.capture_time)}


def _prepare_video(path: Path, rel: str, config: IngestConfig, out: Path,
                   on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Sample and write the frames of one video: ``{"records": [...], "read": n, "near_duplicates": m, ...}``;
    ``on_step`` is told each pass over it as it starts."""
    sampler = FrameSampler(path, config.video, on_step=(lambda step: on_step(f"{rel}: {step}")) if on_step else None)
    stem = rel[: -len(path.suffix)] if path.suffix else rel
    records = []
    for frame in sampler.frames():
        bgr, scale = photos.downscale(frame.image, config.max_image_size)
        name = f"{stem}_{frame.index:06d}.jpg"
        data = _encode(bgr, name, config.jpeg_quality)
        write_bytes_atomic(out / "images" / name, data)
        records.append(dict(
            name=name, file=f"images/{name}", source=str(path), width=bgr.shape[1], height=bgr.shape[0],
            scale=scale, orientation=1, focal_px=None, focal_source="none", make=None, model=None, lens=None,
            focal_mm=None, sha256=hashlib.sha256(data).hexdigest(), mask=None, video=rel, frame=frame.index))
    if not records:
        raise InputError(f"the video {path} gave no frames (OpenCV decoded {sampler.frames_read}); check that it "
                         "plays, or convert it to H.264 MP4")
    return {"records": records, "read": sampler.frames_read, "near_duplicates": sampler.near_duplicates,
            "sampling": _sampling_note(sampler), "widened": sampler.widened}


def _sampling_note(sampler: FrameSampler) -> str:
    """How the frames were chosen, for the log."""
    options = sampler.options
    if options.sampling == "interval":
        return f"{sampler.near_duplicates} near-duplicates left out"
    note = (f"the sharpest each time the view moved on by {sampler.spacing / 2:.0%} to {sampler.spacing:.0%} of its "
            f"width; it moved {sampler.moved:.1f} widths in all")
    if sampler.lost_steps:
        note += f", tracking lost at {sampler.lost_steps} steps (each counted as a whole spacing)"
    if sampler.widened:
        note += (f"; ingest.video.max_frames ({options.max_frames}) widened the spacing from "
                 f"{options.spacing:.0%}, so neighbouring frames overlap less: raise it, or split the video")
    return note


def _group_key(record: dict[str, Any], mode: str) -> tuple:
    if mode == "per_image":
        return (record["name"],)
    if mode == "single":
        return ()
    key = (record["width"], record["height"], record["make"], record["model"], record["lens"],
           round(record["focal_mm"], 2) if record["focal_mm"] else None)
    return (*key, os.path.dirname(record["name"])) if mode == "per_folder" else key


def group_cameras(records: list[dict[str, Any]], mode: str) -> list[CameraGroup]:
    """Assign ``camera_id`` to each record (in place) and return the groups, in order of first use."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(_group_key(record, mode), []).append(record)
    cameras = []
    for camera_id, members in enumerate(groups.values(), start=1):
        sizes = {(m["width"], m["height"]) for m in members}
        if len(sizes) > 1:
            raise InputError(f"camera_grouping=single needs photos of one size, found {sorted(sizes)}; "
                             "use --set ingest.camera_grouping=auto")
        with_prior = [m for m in members if m["focal_px"]]
        first = members[0]
        for m in members:
            m["camera_id"] = camera_id
        cameras.append(CameraGroup(
            camera_id=camera_id, width=first["width"], height=first["height"],
            focal_px=statistics.median(m["focal_px"] for m in with_prior) if with_prior else None,
            focal_source=with_prior[0]["focal_source"] if with_prior else "none",
            make=first["make"], model=first["model"], lens=first["lens"],
            images=tuple(m["name"] for m in members)))
    return cameras


def _find_duplicates(records: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    by_hash: dict[str, list[str]] = {}
    for record in records:
        by_hash.setdefault(record["sha256"], []).append(record["name"])
    return [tuple(names) for names in by_hash.values() if len(names) > 1]


def _drop_duplicates(records: list[dict[str, Any]], duplicates: list[tuple[str, ...]],
                     out: Path) -> list[dict[str, Any]]:
    """``records`` without all but the first of each duplicate group, whose files are deleted."""
    extra = {name for names in duplicates for name in names[1:]}
    for record in records:
        if record["name"] in extra:
            for rel in (record["file"], record["mask"]):
                if rel:
                    (out / rel).unlink(missing_ok=True)
    return [r for r in records if r["name"] not in extra]


def _process_all(config: IngestConfig, ctx: StageContext, files: list[tuple[Path, str]]) -> dict[str, dict]:
    """Prepare every photo, resuming from those finished before an interruption."""
    done = ctx.items()
    results = {rel: done.get(rel) for _, rel in files}
    todo = [(path, rel) for path, rel in files if results[rel] is None]

    videos = [rel for path, rel in todo if is_video(path)]
    with ExitStack() as stack:  # a video takes long as one item: a line every 10 s names its step
        beat = stack.enter_context(ctx.heartbeat(f"reading {len(videos)} video(s)")) if videos else None

        def work(item: tuple[Path, str]) -> tuple[str, dict]:
            path, rel = item
            result = (_prepare_video(path, rel, config, ctx.out, on_step=beat.step if beat else None)
                      if is_video(path) else _prepare(path, rel, config, ctx.out))
            records = result.get("records", [result.get("record", {})])
            done.put(rel, result, files=[f for r in records for f in (r.get("file"), r.get("mask")) if f])
            return rel, result

        with ThreadPoolExecutor(max_workers=ctx.workers) as pool:
            for rel, result in ctx.track(pool.map(work, todo), total=len(todo), unit="image"):
                results[rel] = result
    return results


def _prepare_files(config: IngestConfig, ctx: StageContext,
                   files: list[tuple[Path, str]]) -> tuple[list[dict[str, Any]], list[SkippedFile]]:
    """Records of the usable photos and the skipped files (also logged), both in name order."""
    bad_names = {rel for _, rel in files if photos.printable_name(rel) != rel}
    results = _process_all(config, ctx, [(p, rel) for p, rel in files if rel not in bad_names])
    skipped = [SkippedFile(file=photos.printable_name(rel), reason="the file name is not valid UTF-8; rename it")
               for rel in sorted(bad_names)]
    skipped += [SkippedFile(file=rel, reason=r["skipped"]) for rel, r in results.items() if "skipped" in r]
    skipped.sort(key=lambda s: s.file)
    for s in skipped:
        ctx.log.warning("skipped %s: %s", s.file, s.reason)
    for rel, r in results.items():
        if "records" in r:
            ctx.log.log(logging.WARNING if r["widened"] else logging.INFO, "%s: kept %d of %d frames (%s)", rel,
                        len(r["records"]), r["read"], r["sampling"])
    records = [record for r in results.values() for record in r.get("records", [r.get("record")]) if record]
    return sorted(records, key=lambda r: r["name"]), skipped


def _check_names(records: list[dict[str, Any]]) -> None:
    """Refuse two images of one name (a video's frame named like a photo, or videos with one stem)."""
    seen: dict[str, str] = {}
    for record in records:
        if record["name"] in seen:
            raise InputError(f"two inputs give the image {record['name']}: {seen[record['name']]} and "
                             f"{record['source']}; rename one of them")
        seen[record["name"]] = record["source"]


def _too_few(root: Path, usable: int, found: int, skipped: list[SkippedFile],
             duplicates: list[tuple[str, ...]]) -> str:
    """Why fewer than two photos are usable: an empty folder, or the skipped files and dropped duplicates."""
    if found == 0:
        return (f"{root} holds no photo or video (searched recursively; hidden files and folders are skipped); "
                "give the folder that holds the photos")
    reasons = [f"{s.file}: {s.reason}" for s in skipped[:5]]
    reasons += [f"{', '.join(names[1:])}: identical to {names[0]}" for names in duplicates[:5]]
    return f"{root} has {usable} usable photo(s) out of {found} files; at least 2 are needed" + "".join(
        f"; {reason}" for reason in reasons)


def run(config: IngestConfig, ctx: StageContext) -> dict[str, int]:
    """Prepare the photos (and video frames) of ``ctx.photos`` into ``ctx.out``."""
    root, files = _photo_files(ctx.photos)
    records, skipped = _prepare_files(config, ctx, files)
    _check_names(records)
    duplicates = _find_duplicates(records)
    for names in duplicates:
        ctx.log.warning("identical photos: %s%s", ", ".join(names),
                        f" (using only {names[0]})" if config.drop_duplicates else "")
    if config.drop_duplicates:
        records = _drop_duplicates(records, duplicates, ctx.out)
    if len(records) < 2:
        dropped = duplicates if config.drop_duplicates else []
        raise InputError(_too_few(root, len(records), len(files), skipped, dropped))
    cameras = group_cameras(records, config.camera_grouping)
    images = [ImageRecord(**r) for r in records]
    save_ingest(ctx.out, images, cameras, IngestReport(skipped=tuple(skipped), duplicates=tuple(duplicates)))
    return {"images": len(images), "cameras": len(cameras), "skipped": len(skipped),
            "duplicates": sum(len(d) - 1 for d in duplicates),
            "with_focal_prior": sum(1 for i in images if i.focal_px), "masks": sum(1 for i in images if i.mask),
            **({"video_frames": frames} if (frames := sum(1 for i in images if i.video)) else {})}


STAGE = StageSpec(
    name="ingest",
    version=3,  # 3: images.json records the EXIF capture time
    config=IngestConfig,
    run=run,
    load=load_ingest,
    fingerprint=fingerprint,
    outputs={"images": "images", "image_list": "images.json"},
    cost=Cost(seconds=0.01, count="images"),
    summary="Read photos (HEIC too) and sample videos, apply EXIF orientation, focal priors, camera groups.",
)
