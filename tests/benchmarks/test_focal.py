"""The focal benchmark's photo handling: EXIF stripped without touching the pixels, the preset per set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.focal import Row, preset_for, strip_exif, summary_rows
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


def _row(method: str, preset: str | None, focal: float, registered: str, auc5: float, seed: int | None = None) -> Row:
    return Row(set="walk", method=method, focal=focal, true_focal=500.0, sd=None, registered=registered, auc5=auc5,
               rotation_median_deg=None, wall_s=1.0, preset=preset, seed=seed, sfm_s=1.0)


def test_the_summary_holds_each_preset_to_the_targets_over_its_seeds() -> None:
    rows = [_row("ours (cpu)", "cpu", 505.0, "20/20", 0.40, 0),
            _row("ours (cpu), true f", "cpu", 500.0, "20/20", 0.50, 0),
            _row("ours (cpu)", "cpu", 512.0, "20/20", 0.45, 1),
            _row("ours (cpu), true f", "cpu", 500.0, "20/20", 0.44, 1),
            _row("ours (default)", "default", 505.0, "20/20", 0.495),
            _row("ours (default), true f", "default", 500.0, "20/20", 0.50),
            _row("colmap sift", None, 1000.0, "2/20", 0.0)]
    cpu, default = summary_rows(rows)
    assert cpu[:3] == ["walk", "cpu x2 seeds", "500.0"]
    assert cpu[3] == "+1.70 (+1.00 to +2.40)"  # the focal error over the seeds: median (range)
    assert cpu[6:10] == ["0.425 (0.400 to 0.450)", "0.470 (0.440 to 0.500)", "-0.045", "no/yes/no"]
    assert default[3] == "+1.00" and default[8:10] == ["-0.005", "yes/yes/yes"]
    assert default[10:13] == ["+100.00", "2/20", "0.000"]  # COLMAP's, once per set
