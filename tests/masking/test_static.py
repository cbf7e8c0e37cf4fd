"""A camera that stood still: the background's texture stays put between photos; a moving camera's does not."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.engine.settings import CPU_PRESET, GPU_PRESET, STILL_PRESET, choose_preset
from photogrammetry.masking.static import still_camera, still_share
from tests.io.video_factory import orbit_frames, write_video
from tests.masking.test_background import turntable_frames

SAMPLES = Path(__file__).resolve().parents[2] / "sample_scenes"


def _write(folder: Path, frames: list[np.ndarray]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:03d}.jpg" for i in range(len(frames))]
    for path, frame in zip(paths, frames):
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return paths


def test_a_turntable_stands_still_and_a_camera_that_pans_does_not(tmp_path: Path) -> None:
    frames, _ = turntable_frames(n=10, size=(320, 240))
    still = still_camera(_write(tmp_path / "turntable", frames))
    assert still is not None and still.photos == 8 and still.share > 0.6 and still.still
    scene = cv2.resize(frames[0], (640, 240), interpolation=cv2.INTER_NEAREST)
    panned = [scene[:, 20 * k:20 * k + 320] for k in range(10)]  # the same scene, the camera turning
    moving = still_camera(_write(tmp_path / "pan", panned))
    assert moving is not None and moving.share < 0.3 and not moving.still


def test_exposure_copies_and_odd_inputs(tmp_path: Path) -> None:
    frames, _ = turntable_frames(n=6, size=(320, 240))
    a = cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY).astype(np.float32)
    b = cv2.cvtColor(frames[3], cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert still_share(a, 0.8 * b) == pytest.approx(still_share(a, b), abs=0.05)  # an automatic exposure
    assert np.isnan(still_share(a, b[:, :200]))
    assert still_share(np.full_like(a, 90.0), np.full_like(a, 90.0)) == 0.0  # no texture: nothing to tell by
    copies = still_camera(_write(tmp_path / "copies", [frames[0]] * 5))
    assert copies is not None and copies.share == 1.0 and not copies.still  # nothing turned
    paths = _write(tmp_path / "few", frames[:4])
    (tmp_path / "few" / "notes.txt").write_text("not a photo")
    assert still_camera([*paths[:2], tmp_path / "few" / "notes.txt"]) is None
    assert still_camera(paths[:2]) is None


@pytest.mark.parametrize(("scene", "still"), [("turntable", True), ("orbit", False), ("facade", False)])
def test_auto_is_the_turntable_preset_where_the_sample_scenes_background_stands_still(scene: str, still: bool) -> None:
    photos = sorted((SAMPLES / scene / "images").iterdir())
    choice = choose_preset("auto", device="cpu", photos=photos)
    if still:
        assert choice.name == STILL_PRESET and "stands still" in choice.reason and "--preset cpu" in choice.reason
    else:
        assert choice.name == CPU_PRESET
    # a named preset, or features chosen explicitly, come first
    assert choose_preset("cpu", device="cpu", photos=photos).name == CPU_PRESET
    assert choose_preset("auto", device="cpu", photos=photos,
                         overrides=["features.extractor=disk"]).name == GPU_PRESET


def test_a_run_of_a_turntable_with_preset_auto_records_the_turntable_preset(tmp_path: Path, caplog) -> None:
    from photogrammetry import api
    from photogrammetry.engine.workspace import read_run_record

    frames, _ = turntable_frames(n=8, size=(320, 240))
    photos = tmp_path / "shoot"
    _write(photos / "ring", frames)
    (photos / "notes.txt").write_text("the ingest stage reports this file; the check reads no more than it can")
    with caplog.at_level("INFO", logger="photogrammetry"):
        api.run(photos, tmp_path / "work", until="ingest", device="cpu", progress=False)
    assert read_run_record(tmp_path / "work").preset == STILL_PRESET
    assert "background stands still" in caplog.text


def test_a_video_is_read_where_there_are_no_photos(tmp_path: Path) -> None:
    frames, _ = turntable_frames(n=20, size=(320, 240))
    turntable = write_video(tmp_path / "turntable.mp4", frames, fps=10)
    still = still_camera([], video=turntable)
    assert still is not None and still.photos == 8 and still.still
    orbit = write_video(tmp_path / "orbit.mp4", orbit_frames(20), fps=10)
    moving = still_camera([], video=orbit)
    assert moving is not None and not moving.still
    assert choose_preset("auto", device="cpu", photos=[turntable]).name == STILL_PRESET
    assert choose_preset("auto", device="cpu", photos=[orbit]).name == CPU_PRESET
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    assert still_camera([], video=tmp_path / "broken.mp4") is None


def test_sobel_gives_ndimages_values() -> None:
    from scipy import ndimage

    from photogrammetry.masking.static import sobel

    rng = np.random.default_rng(3)
    frames, _ = turntable_frames(n=2, size=(160, 120))
    images = [cv2.cvtColor(frames[1], cv2.COLOR_BGR2GRAY).astype(np.float32) * np.float32(0.7317),
              (rng.random((37, 53)) * 255).astype(np.float32), (rng.random((3, 2)) * 1e3).astype(np.float32)]
    for image in images:
        for axis in (0, 1):
            ours, theirs = sobel(image, axis), ndimage.sobel(image, axis)
            assert ours.dtype == theirs.dtype == np.float32 and np.allclose(ours, theirs, rtol=1e-6, atol=1e-4)
    assert not np.array_equal(sobel(images[1], 0), sobel(images[1], 1))
