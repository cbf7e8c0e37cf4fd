"""Frame sampling from videos: the sharpest frame per interval, near-duplicates left out, frame limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.video import FrameSampler, VideoOptions, is_video, sharpness
from tests.io.photo_factory import texture
from tests.io.video_factory import blurred, write_video


def _panning(count: int, step: int = 8, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    """Frames of a camera panning over a texture, ``step`` pixels per frame."""
    wide = texture(size[0] + step * count, size[1], seed=3)
    return [np.ascontiguousarray(wide[:, i * step:i * step + size[0]]) for i in range(count)]


def _sample(path: Path, **options) -> tuple[list[int], FrameSampler]:
    sampler = FrameSampler(path, VideoOptions(**options))
    return [frame.index for frame in sampler.frames()], sampler


def test_the_sharpest_frame_of_each_interval_is_kept(tmp_path: Path) -> None:
    frames = _panning(40)
    sharp = [i for i in range(40) if i % 5 == (i // 5) % 5]  # a different position in each interval
    video = write_video(tmp_path / "pan.mp4", [f if i in sharp else blurred(f) for i, f in enumerate(frames)], fps=10)
    kept, sampler = _sample(video, fps=2.0)  # intervals of 5 frames
    assert kept == sharp
    assert sampler.frames_read == 40 and sampler.near_duplicates == 0 and sampler.video_fps == 10


def test_frames_without_motion_are_left_out(tmp_path: Path) -> None:
    panned = _panning(13)
    frames = panned[:10] + [panned[12]] * 30  # the camera moves on, then stops
    kept, sampler = _sample(write_video(tmp_path / "stop.mp4", frames, fps=10), fps=2.0)
    assert len(kept) == 3 and kept[0] < 5 <= kept[1] < 10 <= kept[2] < 15
    assert sampler.near_duplicates == 5
    kept_all, _ = _sample(tmp_path / "stop.mp4", fps=2.0, min_difference=0.0)
    assert len(kept_all) == 8


def test_max_frames_spreads_the_frames_over_the_whole_video(tmp_path: Path) -> None:
    video = write_video(tmp_path / "pan.mp4", _panning(40), fps=10)
    kept, _ = _sample(video, fps=10.0, max_frames=8)
    assert len(kept) == 8 and kept == sorted(kept)
    assert [i // 5 for i in kept] == list(range(8))  # one per fifth of a second, to the end


def test_an_unreadable_video_is_an_input_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(InputError, match=r"cannot read the video .*clip\.mp4"):
        list(FrameSampler(bad, VideoOptions()).frames())


def test_sharpness_and_suffixes() -> None:
    image = texture(160, 120, seed=1)
    assert sharpness(image) > 2 * sharpness(blurred(image))
    assert is_video(Path("a/CLIP.MOV")) and is_video(Path("b.mkv")) and not is_video(Path("c.jpg"))


@pytest.mark.parametrize("options", [{"fps": 0}, {"max_frames": 1}, {"min_difference": -1}])
def test_bad_options_are_config_errors(options) -> None:
    with pytest.raises(ConfigError, match="ingest.video"):
        VideoOptions(**options)
