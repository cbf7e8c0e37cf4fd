"""The focal benchmark's photo handling: EXIF stripped without touching the pixels, the preset per set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.focal import Row, _cuts, preset_for, summary_rows
from benchmarks.focal_photos import strip_exif
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


@pytest.mark.parametrize("k1", [-0.15, 0.15])
def test_distort_moves_each_ray_as_the_lens_model_says_and_leaves_no_border(k1: float, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from benchmarks.focal_photos import distort
    from photogrammetry.evaluation.cameras import PinholeCamera

    width, height, f = 160, 120, 140.0
    K = np.array([[f, 0, 80.3], [0, f, 58.7], [0, 0, 1]])
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    image = np.stack([x * 1.5, y * 2.0, np.full_like(x, 128)], -1).astype(np.uint8)  # pixels name their place
    Image.fromarray(image).save(tmp_path / "a.png")
    gt = SimpleNamespace(views={"a.png": SimpleNamespace(name="a.png", camera=PinholeCamera(K=K, width=width,
                                                                                             height=height))})
    zoom = distort(tmp_path, gt, k1)
    assert (zoom > 1.0) == (k1 < 0) and zoom < 1.2
    warped = np.asarray(Image.open(tmp_path / "a.png")).astype(float)
    ray = np.array([-0.4, 0.3])  # normalised by the original focal length: the lens sees it at
    r2 = ray @ ray
    seen = K[:2, 2] + zoom * f * ray * (1 + k1 * r2)  # the zoomed lens' distorted pixel
    ideal = K[:2, 2] + f * ray  # where the original photo shows it
    u, v = np.round(seen).astype(int)
    assert abs(warped[v, u, 0] / 1.5 - ideal[0]) < 1.5 and abs(warped[v, u, 1] / 2.0 - ideal[1]) < 1.5

    def farthest(zoom: float) -> float:
        """How far past the photo's edge (pixels) the zoomed lens sees at its corners."""
        worst = -np.inf
        for corner in ([0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]):
            distorted = (np.array(corner, float) - K[:2, 2]) / (zoom * f)
            ray = distorted.copy()
            for _ in range(100):  # undistort: ray (1 + k1 |ray|^2) = distorted
                ray = distorted / (1 + k1 * (ray @ ray))
            p = K[:2, 2] + f * ray
            worst = max(worst, -p[0] - 0.5, p[0] - (width - 0.5), -p[1] - 0.5, p[1] - (height - 0.5))
        return worst

    assert farthest(zoom) <= 0.01  # no border: the corners show the photo
    assert k1 > 0 or farthest(zoom * 0.98) > 0  # and no more zoom than that takes


def test_a_video_is_cut_into_windows_from_each_first_frame_and_kept_whole(tmp_path: Path) -> None:
    """``--frames 20 0 --first-frame 0 20 40`` on 60 frames: 0-19, 20-39, 40-59 and all 60; a window that would
    run past the end is left out."""
    frames = tmp_path / "video"
    frames.mkdir()
    for i in range(60):
        (frames / f"{i:05d}.png").write_bytes(b"")
    video = BenchmarkSet("office", frames, None, "real")
    cuts = _cuts(video, [20, 0], tmp_path / "cuts", (0, 20, 40, 50))
    assert [c.name for c in cuts] == ["office-20", "office-20-40", "office-40-60", "office"]
    assert sorted(p.name for p in cuts[1].images.iterdir()) == [f"{i:05d}.png" for i in range(20, 40)]
    assert [c.name for c in _cuts(video, [20], tmp_path / "first")] == ["office-20"]


@pytest.mark.parametrize("factor", [2.0, 3.0])
def test_zoom_moves_each_point_where_the_longer_lens_projects_it(factor: float, tmp_path: Path) -> None:
    """A bright dot at a known 3-D point: after :func:`zoom` its centroid lies where ``zoomed_K`` projects that
    point (within a tenth of a pixel), off the image centre and with a principal point off it too."""
    from benchmarks.focal_photos import zoom, zoomed_K

    width, height = 160, 120
    K = np.array([[150.0, 0, 76.3], [0, 152.0, 63.9], [0, 0, 1]])
    X = np.array([0.07, -0.05, 1.0])
    yy, xx = np.mgrid[0:height, 0:width] + 0.5  # pixel centres in K's convention

    def dot_at(p: np.ndarray, sigma: float) -> np.ndarray:
        return np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * sigma ** 2))

    p = (K @ X)[:2] / X[2]
    Image.fromarray((255 * dot_at(p, 1.5)).astype(np.uint8)).save(tmp_path / "a.png")
    assert zoom(tmp_path, factor) == factor
    zoomed = np.asarray(Image.open(tmp_path / "a.png")).astype(float)
    weights = zoomed * (zoomed > 0.05 * zoomed.max())
    found = np.array([(weights * xx).sum(), (weights * yy).sum()]) / weights.sum()
    K2 = zoomed_K(K, width, height, factor)
    expected = (K2 @ X)[:2] / X[2]
    assert np.abs(found - expected).max() < 0.1
    assert np.abs(expected - p).max() > 5  # the dot did move: the test can fail
    assert K2[0, 0] == pytest.approx(factor * 150.0) and K2[1, 1] == pytest.approx(factor * 152.0)
