"""The focal benchmark's photo handling: EXIF stripped without touching the pixels, the preset per set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.focal import preset_for, strip_exif
from benchmarks.sets import BenchmarkSet
from photogrammetry.io.photos import read_exif

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_strip_exif_drops_the_focal_length_and_keeps_the_pixels(suffix: str, tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    exif.get_ifd(0x8769)[0xA405] = 28  # FocalLengthIn35mmFilm
    src, dst = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    Image.fromarray(pixels).save(src, exif=exif, **({"quality": 95} if suffix == ".jpg" else {}))
    assert read_exif(src.read_bytes()).focal_35mm == 28
    strip_exif(src, dst)
    assert read_exif(dst.read_bytes()).focal_35mm is None and not Image.open(dst).getexif()
    assert np.array_equal(np.asarray(Image.open(src)), np.asarray(Image.open(dst)))


def test_the_turntable_sample_scene_runs_with_its_preset() -> None:
    scenes = ROOT / "sample_scenes"
    turntable = BenchmarkSet("turntable", scenes / "turntable" / "images", scenes / "turntable", "sample")
    orbit = BenchmarkSet("orbit", scenes / "orbit" / "images", scenes / "orbit", "sample")
    real = BenchmarkSet("temple", scenes / "orbit" / "images", None, "real")
    assert [preset_for(s, "fast") for s in (turntable, orbit, real)] == ["turntable", "fast", "fast"]
