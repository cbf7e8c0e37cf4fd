"""Unit tests of photogrammetry.io.photos: orientation, decoding, JPEG completeness, focal priors, listing."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from photogrammetry.io import photos
from tests.io.photo_factory import encode, texture


def _pillow_upright(data: bytes) -> np.ndarray:
    """Pillow's upright view of an encoded image, as BGR: an independent reference."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))[:, :, ::-1]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow(orientation: int) -> None:
    stored = texture(40, 24, seed=orientation)
    data = encode(stored, ".png", {"Orientation": orientation})
    assert np.array_equal(photos.apply_orientation(stored, orientation), _pillow_upright(data))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_upright_turns_each_format_once(suffix: str, orientation: int) -> None:
    # OpenCV turns TIFFs itself, PNGs not: both must come out upright, not turned twice.
    data = encode(texture(40, 24, seed=orientation), suffix, {"Orientation": orientation})
    assert np.array_equal(photos.decode_upright(data, orientation), _pillow_upright(data))


def test_decode_upright_rejects_non_images() -> None:
    assert photos.decode_upright(b"", None) is None
    assert photos.decode_upright(b"plain text, not a photo", None) is None
    assert photos.decode_upright(np.random.default_rng(0).bytes(3000), None) is None


def _jpeg(seed: int = 0, **save: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(texture(96, 64, seed)[:, :, ::-1]).save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def _with_app_segment(jpeg: bytes, payload: bytes) -> bytes:
    """``jpeg`` with an APP2 segment holding ``payload`` right after SOI (like an EXIF thumbnail)."""
    return jpeg[:2] + b"\xff\xe2" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_complete_finds_cuts_in_scan_data(progressive: bool) -> None:
    data = _jpeg(progressive=progressive)
    assert photos.is_jpeg(data) and photos.jpeg_complete(data)
    first_scan = data.find(b"\xff\xda")
    for cut in (first_scan + 20, (first_scan + len(data)) // 2, len(data) - 2, len(data) - 1):
        assert not photos.jpeg_complete(data[:cut]), cut
    assert not photos.jpeg_complete(data[:first_scan - 5])  # cut inside the headers


def test_jpeg_complete_ignores_thumbnail_and_trailer() -> None:
    thumbnail = _jpeg(seed=1)  # a whole JPEG, EOI included, inside an APP segment
    main = _with_app_segment(_jpeg(), thumbnail)
    assert photos.jpeg_complete(main)
    assert not photos.jpeg_complete(main[:len(main) - 300])
    # Data after EOI (maker trailers, motion-photo video) may hold FF DA without FF D9.
    assert photos.jpeg_complete(main + b"\x00\xff\xda\x00\x08trailer" + bytes(200))


def test_is_jpeg_only_for_jpeg_data() -> None:
    assert not photos.is_jpeg(encode(texture(8, 8), ".png"))
    assert not photos.is_jpeg(b"\xff\xd8")


def test_to_bgr8_maps_depths_and_splits_alpha() -> None:
    grey16 = np.array([[0, 257, 65535]], dtype=np.uint16)
    bgr, alpha = photos.to_bgr8(grey16)
    assert bgr.shape == (1, 3, 3) and bgr.dtype == np.uint8 and alpha is None
    assert bgr[0, :, 0].tolist() == [0, 1, 255]
    bgra = np.dstack([texture(5, 4), np.full((4, 5), 7, np.uint8)])
    bgr, alpha = photos.to_bgr8(bgra)
    assert np.array_equal(bgr, bgra[:, :, :3]) and np.all(alpha == 7)
    bgr, _ = photos.to_bgr8(np.array([[0.0, 0.5, 2.0]], dtype=np.float32))
    assert bgr[0, :, 1].tolist() == [0, 128, 255]
    assert photos.to_bgr8(np.zeros((2, 2), np.int32)) == (None, None)
    assert photos.to_bgr8(np.array([[0.5, 2.0, 255.0]], dtype=np.float32)) == (None, None)  # 0..255, not 0..1


def test_downscale_keeps_aspect_and_reports_scale() -> None:
    image = texture(320, 240)
    small, scale = photos.downscale(image, 100)
    assert small.shape == (75, 100, 3) and scale == pytest.approx(100 / 320)
    assert photos.downscale(image, 0)[1] == 1.0 and photos.downscale(image, 320)[0] is image


def test_focal_prior_35mm_equivalent() -> None:
    focal, source = photos.focal_prior_px(photos.ExifInfo(focal_35mm=35.0), 320, 240)
    assert source == "exif_35mm"
    assert focal == pytest.approx(35 * math.hypot(320, 240) / math.hypot(36, 24), rel=1e-9)


@pytest.mark.parametrize("orientation, width, height", [(1, 320, 240), (6, 240, 320)])
def test_focal_prior_focal_plane_uses_stored_width(orientation: int, width: int, height: int) -> None:
    # 4 mm at 100 px/mm for a 640 px wide sensor image, stored at 320 px: 200 px.
    exif = photos.ExifInfo(focal_mm=4.0, focal_plane_px_per_mm=100.0, exif_width=640, orientation=orientation)
    assert photos.focal_prior_px(exif, width, height) == (pytest.approx(200.0), "exif_focal_plane")


def test_focal_prior_rejects_values_no_lens_gives() -> None:
    assert photos.focal_prior_px(photos.ExifInfo(focal_35mm=1.0), 320, 240) == (None, "none")
    assert photos.focal_prior_px(photos.ExifInfo(focal_35mm=5000.0), 320, 240) == (None, "none")
    assert photos.focal_prior_px(photos.ExifInfo(), 320, 240) == (None, "none")


@pytest.mark.parametrize("unit, resolution, px_per_mm", [(2, 2540.0, 100.0), (3, 1000.0, 100.0), (4, 100.0, 100.0)])
def test_read_exif_focal_plane_units(unit: int, resolution: float, px_per_mm: float) -> None:
    data = encode(texture(64, 48), ".jpg", {
        "Make": "Maker", "Model": "Body", "Orientation": 6, "FocalLength": 4.5, "FocalLengthIn35mmFilm": 28,
        "FocalPlaneXResolution": resolution, "FocalPlaneResolutionUnit": unit, "ExifImageWidth": 640,
        "LensModel": "Lens 1"})
    exif = photos.read_exif(data)
    assert (exif.make, exif.model, exif.lens, exif.orientation) == ("Maker", "Body", "Lens 1", 6)
    assert (exif.focal_mm, exif.focal_35mm, exif.exif_width) == (4.5, 28.0, 640)
    assert exif.focal_plane_px_per_mm == pytest.approx(px_per_mm)


def test_read_exif_capture_time_with_fraction_of_a_second() -> None:
    data = encode(texture(32, 24), ".jpg", {"DateTimeOriginal": "2024:05:01 12:00:07", "SubsecTimeOriginal": "25"})
    assert photos.read_exif(data).capture_time == "2024-05-01T12:00:07.250000"
    assert photos.read_exif(encode(texture(32, 24), ".jpg", {"DateTimeOriginal": "2024:05:01 12:00:07"})).capture_time \
        == "2024-05-01T12:00:07.000000"
    assert photos.capture_time("2024:05:01 12:00:07", "003") == "2024-05-01T12:00:07.003000"
    for bad in ("0000:00:00 00:00:00", "    :  :     :  :  ", "2024-05-01 12:00:07", None, b"\xff\xfe"):
        assert photos.capture_time(bad) is None


def test_read_exif_of_data_without_exif() -> None:
    assert photos.read_exif(encode(texture(16, 16), ".png")) == photos.ExifInfo()
    assert photos.read_exif(b"not an image") == photos.ExifInfo()


def _pillow_exif(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif())


def test_read_exif_of_pngs_reads_pixels_only_where_a_chunk_may_hold_exif(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import PngImagePlugin

    plain = encode(texture(40, 24), ".png")
    tagged = encode(texture(40, 24), ".png", {"Orientation": 6, "Model": "X1"})  # an eXIf chunk
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="3"/></x:xmpmeta>')
    out = io.BytesIO()
    Image.fromarray(texture(40, 24)).save(out, "PNG", pnginfo=info)
    xmp = out.getvalue()
    assert photos.png_without_metadata(plain) and not photos.png_without_metadata(tagged)
    assert not photos.png_without_metadata(xmp) and not photos.png_without_metadata(plain[:-12])  # IEND cut
    assert not photos.png_without_metadata(encode(texture(40, 24), ".jpg"))
    assert (photos.read_exif(tagged).orientation, photos.read_exif(tagged).model) == (6, "X1")
    assert photos.read_exif(xmp).orientation == _pillow_exif(xmp)[0x0112] == 3
    loads = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: loads.append(1))
    assert photos.read_exif(plain) == photos.ExifInfo() and not loads  # the pixels not decoded
    photos.read_exif(plain[:-12])
    assert loads  # a cut PNG: Pillow's path, as before


def test_list_files_leaves_out_hidden_workspaces_loops_and_pipes(tmp_path: Path) -> None:
    for rel in ("b.jpg", "a/c.jpg", ".hidden.jpg", ".cache/d.jpg", "ws/e.jpg", "ws/.marker"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    os.symlink("..", tmp_path / "a" / "loop")
    os.symlink("missing.jpg", tmp_path / "broken.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    found = [p.relative_to(tmp_path).as_posix() for p in photos.list_files(tmp_path, ".marker")]
    assert found == ["a/c.jpg", "b.jpg", "broken.jpg"]


def test_printable_name() -> None:
    assert photos.printable_name("Bild Ä 1.jpg") == "Bild Ä 1.jpg"
    bad = os.fsdecode(b"bad\xff.jpg")
    assert photos.printable_name(bad) == "bad\\xff.jpg"
