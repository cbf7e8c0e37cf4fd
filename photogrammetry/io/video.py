"""Sampling still frames from a video file with OpenCV.

Two ways (``ingest.video.sampling``):

- ``motion`` (the default): a frame each time the view has moved on by ``spacing`` of the frame's
  width, so a fast turn gives frames close in time and a slow walk frames far apart, each overlapping
  its neighbours alike. A first pass over the video tracks corners from frame to frame (pyramidal
  Lucas-Kanade at 320 px, checked forward and backward) and adds up how far the view moves (the
  80th percentile of the tracked corners' displacements); a step where tracking is lost counts as a
  full ``spacing``. Then, from the last kept frame, the sharpest frame whose view has moved between
  half and the whole ``spacing`` is kept, and the second pass decodes those frames. Where the view
  moves on by less than half a spacing within ``1 / fps`` seconds (a slow pan, or an object turning
  before a still camera, whose corners the background's outvote), the sharpest frame of that time's
  second half is kept, unless it is a near-duplicate (below) of the last kept one: a camera standing
  still adds no frame.
- ``interval``: the video is cut into intervals of ``1 / fps`` seconds; of each interval the
  sharpest frame is kept. A kept frame that hardly differs from the one kept before it (the camera
  stood still) is left out, as it adds no baseline.

Both keep at most ``max_frames`` frames, spread over the whole video (longer intervals, or a larger
spacing). Sharpness is the variance of the Laplacian of the grey image (motion blur and defocus
lower it). Frames come out in time order, as 8-bit BGR arrays, turned upright by OpenCV when the
file records a rotation (phones do).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.video_motion import MotionTracker, choose_keyframes

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv")
"""File extensions read as videos (lower case)."""
ASSUMED_FPS = 30.0
"""Frame rate assumed when a file does not state a usable one."""
_THUMB_WIDTH = 64
"""Width of the grey thumbnails compared to find near-duplicates."""
_SHARPNESS_SIZE = 960
"""Longest side a frame is shrunk to before its sharpness is measured (bounds the cost)."""


SAMPLINGS = ("motion", "interval")
"""How frames are chosen (see the module's docstring)."""


@dataclass(frozen=True, kw_only=True)
class VideoOptions:
    """How frames are sampled from video files."""

    sampling: str = "motion"
    """``motion``: a frame each time the view has moved on by ``spacing``; ``interval``: the sharpest
    frame of every ``1 / fps`` seconds (see :mod:`photogrammetry.io.video`)."""
    spacing: float = 0.1
    """``motion``: the most the view moves on between kept frames, as a share of the frame's width (the
    sharpest frame between half and all of it is kept; a third of it left too few points seen by three
    frames to map a real walk: README, Inputs)."""
    fps: float = 2.0
    """``interval``: frames kept per second of video (at most): the sharpest of every ``1 / fps`` seconds;
    ``motion``: the fewest while the view changes (see :mod:`photogrammetry.io.video`)."""
    max_frames: int = 300
    """Most frames kept per video; a longer video gets longer intervals (or a larger spacing) so they span all of it."""
    min_difference: float = 2.0
    """A frame kept for time alone whose grey thumbnail differs from the last kept frame's by less than this mean
    absolute difference (grey levels, 0-255) is a near-duplicate (no motion) and left out; 0 keeps all."""

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ConfigError(f"ingest.video.sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        if not 0 < self.spacing <= 1:
            raise ConfigError(f"ingest.video.spacing must be within (0, 1], got {self.spacing}")
        if not 0 < self.fps <= 120:
            raise ConfigError(f"ingest.video.fps must be within (0, 120], got {self.fps}")
        if self.max_frames < 2:
            raise ConfigError(f"ingest.video.max_frames must be >= 2, got {self.max_frames}")
        if not 0 <= self.min_difference < 255:
            raise ConfigError(f"ingest.video.min_difference must be within [0, 255), got {self.min_difference}")


@dataclass(frozen=True)
class Frame:
    """One kept frame."""

    index: int
    """Frame number in the video, from 0."""
    time_s: float
    """Time of the frame in seconds from the start."""
    image: np.ndarray
    """``(H, W, 3)`` uint8 BGR pixels."""
    sharpness: float
    """Variance of the Laplacian of the frame's grey image."""


def is_video(path: Path) -> bool:
    """Whether the file extension is one of :data:`VIDEO_SUFFIXES`."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def sharpness(bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image, shrunk first to at most 960 pixels across."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    scale = _SHARPNESS_SIZE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    """Small blurred grey float image for comparing frames."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    height = max(1, round(grey.shape[0] * _THUMB_WIDTH / grey.shape[1]))
    small = cv2.resize(grey, (_THUMB_WIDTH, height), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small.astype(np.float32), (3, 3), 0)


class FrameSampler:
    """The kept frames of one video; counts of what was read and left out after iterating.

    Args:
        path: The video file.
        options: Sampling settings.
        on_step: Told each pass over the video as it starts (for progress lines).

    Raises:
        InputError: When OpenCV cannot open the file (from :meth:`frames`).
    """

    def __init__(self, path: Path, options: VideoOptions, *, on_step: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.options = options
        self.on_step = on_step or (lambda step: None)
        """Told each pass over the video as it starts (for progress lines)."""
        self.frames_read = 0
        """Frames decoded (in the first pass, with ``motion``)."""
        self.near_duplicates = 0
        """``interval``: interval winners left out as near-duplicates of the frame kept before."""
        self.video_fps = ASSUMED_FPS
        """The video's frame rate (stated, or :data:`ASSUMED_FPS`)."""
        self.moved = 0.0
        """``motion``: how far the view moved over the whole video (frame widths)."""
        self.spacing = options.spacing
        """``motion``: the spacing used (larger than asked where ``max_frames`` frames would not span the video)."""
        self.lost_steps = 0
        """``motion``: steps between frames where tracking was lost (each counted as a whole spacing)."""

    @property
    def widened(self) -> bool:
        """``motion``: whether ``max_frames`` made the spacing larger than asked."""
        return self.spacing > self.options.spacing * 1.001

    def _open(self) -> cv2.VideoCapture:
        """The opened capture; reads the frame rate."""
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise InputError(f"cannot read the video {self.path}: OpenCV cannot open it (corrupt, cut short, or a "
                             "codec this build lacks); convert it to H.264 MP4, or extract its frames as photos")
        stated = capture.get(cv2.CAP_PROP_FPS)
        if math.isfinite(stated) and 0 < stated <= 1000:
            self.video_fps = stated
        return capture

    def frames(self) -> Iterator[Frame]:
        """Kept frames in time order (at most ``max_frames``)."""
        if self.options.sampling == "interval":
            yield from self._interval_frames()
        else:
            yield from self._motion_frames()

    def _decoded(self, capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
        """The capture's frames as BGR, until it ends."""
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                return
            yield cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image

    def _motion_frames(self) -> Iterator[Frame]:
        """``motion`` sampling: measure every step, choose, then decode the chosen frames again."""
        capture, tracker = self._open(), MotionTracker()
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.on_step(f"measuring how the view moves ({int(count)} frames)" if math.isfinite(count) and count > 0
                     else "measuring how the view moves")
        steps, scores, thumbs = [], [], []
        try:
            for image in self._decoded(capture):
                step = tracker.step(image)
                steps.append(np.nan if step is None else step)
                scores.append(sharpness(image))
                thumbs.append(thumbnail(image))
        finally:
            capture.release()
        self.frames_read = len(steps)
        if not steps:
            return
        steps_array = np.asarray(steps)
        self.lost_steps = int(np.isnan(steps_array).sum())
        gap = max(1.0, self.video_fps / self.options.fps)
        chosen, self.spacing = choose_keyframes(steps_array, np.asarray(scores), self.options.spacing,
                                                self.options.max_frames, gap=gap,
                                                differs=lambda a, b: self._distinct(thumbs[a], thumbs[b]))
        self.moved = float(np.nansum(steps_array))
        wanted = set(chosen)
        self.on_step(f"decoding the {len(chosen)} frames chosen of {len(steps)}")
        capture = self._open()
        try:
            for index, image in enumerate(self._decoded(capture)):
                if index in wanted:
                    yield Frame(index, index / self.video_fps, image, scores[index])
                if index >= chosen[-1]:
                    return
        finally:
            capture.release()

    def _interval_frames(self) -> Iterator[Frame]:
        """``interval`` sampling: the sharpest frame of each interval, near-duplicates left out."""
        capture = self._open()
        self.on_step("keeping the sharpest frame of each interval")
        interval = max(1.0, self.video_fps / self.options.fps)
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        if math.isfinite(count) and count > 0:
            interval = max(interval, count / self.options.max_frames)
        best: Frame | None = None
        last_thumb: np.ndarray | None = None
        kept = 0

        def new(frame: Frame) -> bool:
            """Whether ``frame`` differs from the last kept one (else a near-duplicate, counted)."""
            nonlocal last_thumb
            thumb = thumbnail(frame.image)
            if last_thumb is not None and not self._distinct(thumb, last_thumb):
                self.near_duplicates += 1
                return False
            last_thumb = thumb
            return True

        try:
            for index, image in enumerate(self._decoded(capture)):
                if best is not None and math.floor(index / interval) != math.floor(best.index / interval):
                    if new(best):
                        kept += 1
                        yield best
                    best = None
                    if kept >= self.options.max_frames:
                        return
                self.frames_read += 1
                score = sharpness(image)
                if best is None or score > best.sharpness:
                    best = Frame(index, index / self.video_fps, image, score)
            if best is not None and new(best):
                yield best
        finally:
            capture.release()

    def _distinct(self, thumb: np.ndarray, other: np.ndarray) -> bool:
        """Whether two frames' thumbnails differ by at least ``min_difference`` (else near-duplicates)."""
        return float(np.abs(thumb - other).mean()) >= self.options.min_difference
