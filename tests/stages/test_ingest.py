"""Ingest on real files, photo by photo: formats, broken files, EXIF orientation, focal priors, downscaling."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.io.ingest import ImageRecord, IngestResult
from tests.io.photo_factory import encode, texture


def _image(result: IngestResult, name: str) -> ImageRecord:
    return next(i for i in result.images if i.name == name)


def _read(result: IngestResult, name: str) -> np.ndarray:
    """The prepared image of ``name`` as stored: ``(H, W, 3)`` uint8 BGR."""
    return cv2.imread(str(result.image_path(_image(result, name))), cv2.IMREAD_UNCHANGED)


def _skipped(result: IngestResult) -> dict[str, str]:
    report = json.loads((result.root / "report.json").read_text(encoding="utf-8"))
    return {s["file"]: s["reason"] for s in report["skipped"]}


def test_corrupt_jpegs_are_skipped_with_a_warning(photos_dir, write_photo, ingest, caplog) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("b.jpg", seed=2)
    data = encode(texture(320, 240, seed=3), ".jpg")
    scan = data.rfind(b"\xff\xda")
    (photos_dir / "truncated.jpg").write_bytes(data[:(scan + len(data)) // 2])
    (photos_dir / "garbage.jpg").write_bytes(np.random.default_rng(4).bytes(4000))
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        _, result = ingest()
    assert [i.name for i in result.images] == ["a.jpg", "b.jpg"]
    skipped = _skipped(result)
    assert set(skipped) == {"truncated.jpg", "garbage.jpg"}
    assert skipped["truncated.jpg"].startswith("truncated JPEG")
    assert "not a readable image" in skipped["garbage.jpg"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in skipped:
        assert any(name in w for w in warnings), name


def test_text_broken_heic_and_raw_files_are_skipped(photos_dir, write_photo, ingest, caplog) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("b.jpg", seed=2)
    (photos_dir / "notes.jpg").write_text("this is a text file, not a photo\n")
    (photos_dir / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(100))
    (photos_dir / "IMG_0002.DNG").write_bytes(b"II*\x00" + bytes(100))
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        _, result = ingest()
    skipped = _skipped(result)
    assert "not a readable image" in skipped["notes.jpg"]
    assert "not a readable image" in skipped["IMG_0001.HEIC"]
    assert "RAW files are not supported" in skipped["IMG_0002.DNG"]
    assert any("notes.jpg" in r.getMessage() for r in caplog.records)
    assert len(result.images) == 2


def test_heic_is_read_upright_with_its_exif(write_photo, ingest) -> None:
    stored = texture(80, 60, seed=6)
    upright = np.rot90(stored, -1)  # EXIF orientation 6, which pillow-heif stores as the file's rotation
    write_photo("IMG_0001.HEIC", image=stored, exif={"Orientation": 6, "Make": "Apple", "Model": "iPhone",
                                                     "FocalLength": 4.0, "FocalLengthIn35mmFilm": 26})
    write_photo("IMG_0002.heic", seed=7)
    _, result = ingest()
    turned, plain = _image(result, "IMG_0001.HEIC"), _image(result, "IMG_0002.heic")
    assert turned.file == "images/IMG_0001.HEIC.jpg" and plain.file == "images/IMG_0002.heic.jpg"
    assert (turned.width, turned.height, turned.orientation) == (60, 80, 6)
    assert (plain.width, plain.height, plain.orientation) == (64, 48, 1)
    out = _read(result, "IMG_0001.HEIC")
    assert out.shape == upright.shape
    assert np.abs(out.astype(int) - upright).mean() < 5  # HEVC and JPEG noise only; a wrong turn gives ~60
    assert (turned.make, turned.model, turned.focal_mm, turned.focal_source) == ("Apple", "iPhone", 4.0, "exif_35mm")
    assert turned.focal_px == pytest.approx(26 * math.hypot(60, 80) / math.hypot(36, 24), rel=1e-6)
    assert (plain.focal_px, plain.focal_source) == (None, "none")


def test_16_bit_and_grey_pngs_become_8_bit_colour(photos_dir, write_photo, ingest) -> None:
    rng = np.random.default_rng(5)
    colour16 = rng.integers(0, 65536, size=(48, 64, 3), dtype=np.uint16)
    colour16[0, 0], colour16[0, 1], colour16[0, 2] = 65535, 0, 257 * 100
    grey16 = rng.integers(0, 65536, size=(48, 64), dtype=np.uint16)
    grey16[0, 0] = 65535
    grey8 = texture(64, 48, seed=6)[:, :, 1]
    for name, image in (("colour16.png", colour16), ("grey16.png", grey16), ("grey8.png", grey8)):
        write_photo(name, image=image)
    _, result = ingest()
    out = _read(result, "colour16.png")
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    assert out[0, 0].tolist() == [255] * 3 and out[0, 1].tolist() == [0] * 3 and out[0, 2].tolist() == [100] * 3
    assert np.array_equal(out, np.round(colour16 / 257.0).astype(np.uint8))
    grey = _read(result, "grey16.png")
    assert grey.shape == (48, 64, 3) and grey[0, 0].tolist() == [255] * 3
    assert np.array_equal(grey, np.repeat(np.round(grey16 / 257.0).astype(np.uint8)[:, :, None], 3, axis=2))
    assert np.array_equal(_read(result, "grey8.png"), np.repeat(grey8[:, :, None], 3, axis=2))


def test_alpha_becomes_a_mask_unless_opaque(write_photo, ingest) -> None:
    colour = texture(64, 48, seed=7)
    alpha = np.random.default_rng(8).integers(0, 256, size=(48, 64), dtype=np.uint8)
    alpha[0, :2] = 127, 128
    write_photo("cut.png", image=np.dstack([colour, alpha]))
    write_photo("opaque.png", image=np.dstack([texture(64, 48, seed=9), np.full((48, 64), 255, np.uint8)]))
    _, result = ingest()
    cut, opaque = _image(result, "cut.png"), _image(result, "opaque.png")
    assert cut.mask == "masks/cut.png.png" and opaque.mask is None
    mask = cv2.imread(str(result.mask_path(cut)), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (48, 64) and mask[0, :2].tolist() == [0, 255]
    assert np.array_equal(mask, np.where(alpha >= 128, 255, 0).astype(np.uint8))
    assert np.array_equal(_read(result, "cut.png"), colour)
    assert sorted(p.name for p in (result.root / "masks").iterdir()) == ["cut.png.png"]


def test_tiffs_become_pngs(write_photo, ingest) -> None:
    colour8 = write_photo("scan8.tif", seed=10)
    colour16 = np.random.default_rng(11).integers(0, 65536, size=(48, 64, 3), dtype=np.uint16)
    write_photo("scan16.tiff", image=colour16)
    _, result = ingest()
    assert _image(result, "scan8.tif").file == "images/scan8.tif.png"
    assert _image(result, "scan16.tiff").file == "images/scan16.tiff.png"
    assert np.array_equal(_read(result, "scan8.tif"), colour8)
    assert np.array_equal(_read(result, "scan16.tiff"), np.round(colour16 / 257.0).astype(np.uint8))


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
@pytest.mark.parametrize("orientation, turns", [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(write_photo, ingest, suffix: str, orientation: int, turns: int) -> None:
    stored = texture(80, 60, seed=orientation)
    upright = np.rot90(stored, turns)  # what a viewer shows for this orientation
    write_photo(f"turned{suffix}", image=stored, exif={"Orientation": orientation})
    write_photo(f"plain{suffix}", seed=20)
    _, result = ingest()
    record = _image(result, f"turned{suffix}")
    assert (record.width, record.height, record.orientation) == (upright.shape[1], upright.shape[0], orientation)
    out = _read(result, f"turned{suffix}")
    assert out.shape == upright.shape
    assert np.abs(out.astype(int) - upright).mean() < 5  # JPEG noise only; a wrong turn gives ~60


def test_unchanged_photos_are_copied_byte_for_byte(photos_dir, write_photo, ingest) -> None:
    write_photo("upright.jpg", seed=1, exif={"Orientation": 1, "Model": "Body"})
    write_photo("plain.png", seed=2)
    _, result = ingest()
    for name in ("upright.jpg", "plain.png"):
        assert result.image_path(_image(result, name)).read_bytes() == (photos_dir / name).read_bytes()


def test_focal_prior_from_35mm_equivalent(write_photo, ingest) -> None:
    write_photo("a.jpg", size=(320, 240), seed=1, exif={"FocalLengthIn35mmFilm": 35})
    write_photo("b.jpg", size=(320, 240), seed=2, exif={"FocalLengthIn35mmFilm": 1})  # no lens does that
    _, result = ingest("camera_grouping='per_image'")
    a, b = _image(result, "a.jpg"), _image(result, "b.jpg")
    assert a.focal_source == "exif_35mm"
    assert a.focal_px == pytest.approx(35 * math.hypot(320, 240) / math.hypot(36, 24), rel=1e-6)
    assert (b.focal_px, b.focal_source) == (None, "none")
    assert [(c.focal_px, c.focal_source) for c in result.cameras][1] == (None, "none")


@pytest.mark.parametrize("exif_width, orientation, expected", [(None, 1, 4.0 * 200), (640, 1, 4.0 * 200 / 2),
                                                               (640, 6, 4.0 * 200 / 2)])
def test_focal_prior_from_focal_plane_resolution(write_photo, ingest, exif_width, orientation, expected) -> None:
    tags = {"FocalLength": 4.0, "FocalPlaneXResolution": 2000.0, "FocalPlaneResolutionUnit": 3,  # 200 px/mm
            "Orientation": orientation, **({"ExifImageWidth": exif_width} if exif_width else {})}
    write_photo("a.jpg", size=(320, 240), seed=1, exif=tags)
    write_photo("b.jpg", size=(320, 240), seed=2, exif=tags)
    _, result = ingest()
    a = _image(result, "a.jpg")
    assert a.focal_source == "exif_focal_plane" and a.focal_mm == 4.0
    assert a.focal_px == pytest.approx(expected, rel=1e-6)
    assert result.cameras[0].focal_px == pytest.approx(expected, rel=1e-6)


def test_downscale_to_max_image_size(write_photo, ingest) -> None:
    write_photo("a.jpg", size=(320, 240), seed=1, exif={"FocalLengthIn35mmFilm": 35})
    alpha = np.zeros((240, 320), np.uint8)
    alpha[:, 160:] = 255
    write_photo("b.png", image=np.dstack([texture(320, 240, seed=2), alpha]))
    _, result = ingest("max_image_size=100")
    a, b = _image(result, "a.jpg"), _image(result, "b.png")
    assert (a.width, a.height, a.scale) == (100, 75, pytest.approx(100 / 320))
    assert _read(result, "a.jpg").shape == (75, 100, 3)
    assert a.focal_px == pytest.approx(35 * math.hypot(320, 240) / math.hypot(36, 24) * 100 / 320, rel=1e-6)
    mask = cv2.imread(str(result.mask_path(b)), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (75, 100) and mask[:, :45].max() == 0 and mask[:, 55:].min() == 255
    assert (result.cameras[0].width, result.cameras[0].height) == (100, 75)


def test_unusable_names_and_links_are_reported_not_fatal(tmp_path: Path, photos_dir, write_photo, ingest) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("b.jpg", seed=2)
    (photos_dir / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    bad = Path(os.fsdecode(bytes(photos_dir) + b"/latin1-\xc4.jpg"))
    bad.write_bytes((photos_dir / "a.jpg").read_bytes())
    _, result = ingest()
    skipped = _skipped(result)
    assert "No such file" in skipped["broken.jpg"]
    assert "not valid UTF-8" in skipped["latin1-\\xc4.jpg"]
    assert [i.name for i in result.images] == ["a.jpg", "b.jpg"]
