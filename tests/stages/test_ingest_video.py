"""Videos as input: given as PHOTOS or found beside photos, sampled into ordered frames by ingest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import photogrammetry
from photogrammetry.errors import InputError
from photogrammetry.io.ingest import load_ingest
from photogrammetry.stages.ingest import IngestConfig, fingerprint
from tests.io.video_factory import blurred, orbit_frames, write_video

SHARP = [i for i in range(40) if i % 5 == 2]
"""Frames left sharp in the orbit video; all others are blurred. At 10 fps and ``interval`` sampling
at 2 frames a second, the intervals are 5 frames long, so these are the frames ingest must keep."""
INTERVAL = "ingest.video.sampling=interval"


@pytest.fixture(scope="module")
def orbit_video(tmp_path_factory) -> Path:
    """4 s of a camera orbiting a vase (40 rendered frames, 160x120, 10 fps), one frame in 5 sharp."""
    frames = orbit_frames(40)
    frames = [f if i in SHARP else blurred(f, 1.5) for i, f in enumerate(frames)]
    return write_video(tmp_path_factory.mktemp("video") / "orbit.mp4", frames, fps=10)


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "photogrammetry", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_a_video_given_as_photos_becomes_its_sharpest_frames_in_order(orbit_video: Path, tmp_path: Path) -> None:
    proc = _cli("run", orbit_video, "-w", tmp_path / "ws", "--until", "ingest", "--set", INTERVAL)
    assert proc.returncode == 0, proc.stderr
    result = load_ingest(next((tmp_path / "ws" / "ingest").iterdir()))
    assert [i.name for i in result.images] == [f"orbit_{i:06d}.jpg" for i in SHARP]
    assert [i.frame for i in result.images] == SHARP
    assert {(i.video, i.source, i.focal_source, i.width, i.height) for i in result.images} == {
        ("orbit.mp4", str(orbit_video), "none", 160, 120)}
    assert len(result.cameras) == 1 and result.cameras[0].focal_px is None  # estimated later, as without EXIF
    assert all(result.image_path(i).is_file() for i in result.images)


def test_video_fps_option_and_cache(orbit_video: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    proc = _cli("run", orbit_video, "-w", workspace, "--until", "ingest", "--video-fps", "5")
    assert proc.returncode == 0, proc.stderr
    images = load_ingest(next((workspace / "ingest").iterdir())).images
    assert len(images) == 20 and [i.frame for i in images] == sorted(i.frame for i in images)
    again = photogrammetry.run(orbit_video, workspace, until="ingest", overrides=[INTERVAL, "ingest.video.fps=5"],
                               progress=False)
    assert [s.action for s in again.stages] == ["reused"]
    copy = tmp_path / "orbit.mp4"  # another file: its own fingerprint
    copy.write_bytes(orbit_video.read_bytes())
    other = photogrammetry.run(copy, workspace, until="ingest", overrides=[INTERVAL, "ingest.video.fps=5"],
                               progress=False)
    assert [s.action for s in other.stages] == ["ran"]
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))  # the video changed
    changed = photogrammetry.run(copy, workspace, until="ingest", overrides=[INTERVAL, "ingest.video.fps=5"],
                                 progress=False)
    assert [s.action for s in changed.stages] == ["ran"]


def test_a_video_beside_photos_is_sampled_and_fingerprinted(orbit_video: Path, tmp_path: Path, write_photo,
                                                             photos_dir: Path, ingest) -> None:
    write_photo("a.jpg", seed=1)
    before = fingerprint(IngestConfig(), photos_dir)
    (photos_dir / "clips").mkdir()
    (photos_dir / "clips" / "walk.MOV").write_bytes(orbit_video.read_bytes())
    after = fingerprint(IngestConfig(), photos_dir)
    assert "video_sampling" not in before and after["video_sampling"] >= 1
    assert ["clips/walk.MOV", orbit_video.stat().st_size] == list(after["files"][1][:2])
    result, artifact = ingest(INTERVAL.removeprefix("ingest."))
    names = [i.name for i in artifact.images]
    assert names == ["a.jpg", *(f"clips/walk_{i:06d}.jpg" for i in SHARP)]
    assert result.stages[0].counts["video_frames"] == len(SHARP)


def test_an_unreadable_video_stops_ingest_naming_it(tmp_path: Path, write_photo, photos_dir: Path, ingest) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("b.jpg", seed=2)
    (photos_dir / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(InputError, match=r"cannot read the video .*broken\.mp4"):
        ingest()


def test_a_file_that_is_no_video_given_as_photos_is_refused(tmp_path: Path) -> None:
    photo = tmp_path / "one.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    proc = _cli("run", photo, "-w", tmp_path / "ws", "--until", "ingest")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"PHOTOS {photo} is a file; give a folder of photos or a video file" in proc.stderr
    assert not (tmp_path / "ws").exists()
