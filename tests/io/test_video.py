"""Frame sampling from videos: by the view's motion (the default) or per interval, sharpest frames, frame limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.video import FrameSampler, VideoOptions, is_video, sharpness
from photogrammetry.io.video_motion import choose_keyframes
from tests.io.photo_factory import texture
from tests.io.video_factory import blurred, write_video


def _panning(count: int, step: int = 8, size: tuple[int, int] = (160, 120), *,
             faster: int | None = None) -> list[np.ndarray]:
    """Frames of a camera panning over a texture, ``step`` pixels per frame (``faster`` from the middle on)."""
    steps = [0] + [step if i < count // 2 or faster is None else faster for i in range(1, count)]
    offsets = np.cumsum(steps)
    wide = texture(size[0] + int(offsets[-1]), size[1], seed=3)
    return [np.ascontiguousarray(wide[:, x:x + size[0]]) for x in offsets]


def _sample(path: Path, **options) -> tuple[list[int], FrameSampler]:
    sampler = FrameSampler(path, VideoOptions(**{"sampling": "interval", **options}))
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


@pytest.mark.parametrize("options", [{"fps": 0}, {"max_frames": 1}, {"min_difference": -1}, {"sampling": "every"},
                                     {"spacing": 0}, {"spacing": 1.5}])
def test_bad_options_are_config_errors(options) -> None:
    with pytest.raises(ConfigError, match="ingest.video"):
        VideoOptions(**options)


NO_FLOOR = {"gap": 1e9, "differs": lambda a, b: True}
"""No frame kept for time alone: the view's motion decides."""


def test_keyframes_are_the_sharpest_of_each_half_to_whole_spacing() -> None:
    steps = np.full(40, 0.02)
    steps[0] = 0.0
    sharp = np.ones(40)
    sharp[[5, 8, 13]] = 2.0
    keep, spacing = choose_keyframes(steps, sharp, spacing=0.11, max_frames=300, **NO_FLOOR)
    # from each kept frame the band of 0.055 to 0.11 is the next 3rd to 5th frame; its sharpest, else its first
    assert keep[:6] == [0, 5, 8, 13, 16, 19] and spacing == 0.11
    assert keep[-1] >= 36  # the tail is left only when it moved on by less than half a spacing


def test_keyframes_follow_jumps_and_lost_tracking_and_skip_a_still_camera() -> None:
    steps = np.full(30, 0.02)
    steps[0], steps[10], steps[20] = 0.0, 0.5, np.nan  # a jump, then a step where tracking was lost
    keep, _ = choose_keyframes(steps, np.ones(30), spacing=0.11, max_frames=300, **NO_FLOOR)
    assert 10 in keep and 20 in keep  # the frame after each: a lost step counts as a whole spacing
    assert choose_keyframes(np.zeros(50), np.arange(50.0) % 7, spacing=0.1, max_frames=300, **NO_FLOOR)[0] == [6]


def test_where_the_view_hardly_moves_a_frame_is_kept_each_gap_unless_it_looks_the_same() -> None:
    sharp = np.arange(60.0) % 4  # the sharpest frames: 3, 7, 11, ...
    turning, _ = choose_keyframes(np.full(60, 0.001), sharp, spacing=0.1, max_frames=300, gap=8,
                                  differs=lambda a, b: True)  # an object turning before a still camera
    assert turning == [3, 11, 19, 27, 35, 43, 51, 59]  # the sharpest of each gap's second half
    alike = range(19, 40)  # the camera stood still: these frames look the same
    still, _ = choose_keyframes(np.full(60, 0.001), sharp, spacing=0.1, max_frames=300, gap=8,
                                differs=lambda a, b: not (a in alike and b in alike))
    assert still == [3, 11, 19, 43, 51, 59]


def test_keyframes_spread_over_the_whole_video_within_max_frames() -> None:
    steps = np.full(100, 0.02)
    all_of_them, _ = choose_keyframes(steps, np.ones(100), spacing=0.11, max_frames=300, **NO_FLOOR)
    keep, spacing = choose_keyframes(steps, np.ones(100), spacing=0.11, max_frames=10, **NO_FLOOR)
    assert len(all_of_them) > 30 and len(keep) <= 10 and spacing > 0.11
    assert keep[0] <= 5 and keep[-1] >= 80


def _motion(path: Path, **options) -> tuple[list[int], FrameSampler]:
    sampler = FrameSampler(path, VideoOptions(**options))
    return [frame.index for frame in sampler.frames()], sampler


def test_motion_sampling_keeps_frames_by_how_far_the_view_moved(tmp_path: Path) -> None:
    frames = _panning(80, step=4, faster=8)  # 2.5 %, then 5 % of the width a frame
    kept, sampler = _motion(write_video(tmp_path / "pan.mp4", frames, fps=10), spacing=0.1)
    assert sampler.frames_read == 80 and sampler.lost_steps == 0
    assert 39 * 0.025 + 40 * 0.05 == pytest.approx(sampler.moved, rel=0.1)
    first, second = np.diff([k for k in kept if k < 40]), np.diff([k for k in kept if k >= 40])
    assert 2 <= first.mean() <= 4 and 1 <= second.mean() <= 2  # the same overlap: twice the frames when twice as fast


def test_motion_sampling_takes_the_sharpest_frame_and_nothing_while_still(tmp_path: Path) -> None:
    frames = _panning(31, step=4)  # 2.5 % a frame: from a kept frame, the band is the 2nd to 4th frame after it
    sharp = list(range(0, 31, 3))
    moving = [f if i in sharp else blurred(f) for i, f in enumerate(frames)]
    steps: list[str] = []
    sampler = FrameSampler(write_video(tmp_path / "pan.mp4", moving, fps=10), VideoOptions(), on_step=steps.append)
    kept = [frame.index for frame in sampler.frames()]
    assert kept == sharp
    assert steps == ["measuring how the view moves (31 frames)", f"decoding the {len(sharp)} frames chosen of 31"]
    still, _ = _motion(write_video(tmp_path / "stop.mp4", moving + [moving[-1]] * 30, fps=10))
    assert len(still) in (len(sharp), len(sharp) + 1) and sum(i > 30 for i in still) <= 1


def test_motion_sampling_keeps_an_object_turning_before_a_still_camera(tmp_path: Path) -> None:
    background, turning = texture(160, 120, seed=5), _panning(40, step=2, size=(56, 56))
    frames = []
    for patch in turning:  # a textured object turning in the middle; most corners stand still
        frame = background.copy()
        frame[32:88, 52:108] = patch
        frames.append(frame)
    kept, sampler = _motion(write_video(tmp_path / "turn.mp4", frames, fps=10))  # a gap: 5 frames at 2 fps
    assert sampler.moved < 0.1 * 0.5  # the background's corners outvote the object's: no motion to speak of
    assert 8 <= len(kept) <= 14 and np.diff(kept).max() <= 5  # the sharpest of the second half of every gap
