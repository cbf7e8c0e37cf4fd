"""Sampling still frames from a video file with OpenCV.

The video is cut into intervals of ``1 / fps`` seconds (longer when the video would give more
than ``max_frames`` frames); of each interval the sharpest frame is kept, sharpness being the
variance of the Laplacian of its grey image (motion blur and defocus lower it). A kept frame
that hardly differs from the one kept before it (the camera stood still) is left out, as it
adds no baseline. Frames come out in time order, as 8-bit BGR arrays, turned upright by OpenCV
when the file records a rotation (phones do).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import ConfigError, InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv")
"""File extensions read as videos (lower case)."""
ASSUMED_FPS = 30.0
"""Frame rate assumed when a file does not state a usable one."""
_THUMB_WIDTH = 64
"""Width of the grey thumbnails compared to find near-duplicates."""
_SHARPNESS_SIZE = 960
"""Longest side a frame is shrunk to before its sharpness is measured (bounds the cost)."""


@dataclass(frozen=True, kw_only=True)
class VideoOptions:
    """How frames are sampled from video files."""

    fps: float = 2.0
    """Frames kept per second of video (at most): the sharpest of every ``1 / fps`` seconds."""
    max_frames: int = 300
    """Most frames kept per video; a longer video gets longer intervals so they span all of it."""
    min_difference: float = 2.0
    """A frame whose grey thumbnail differs from the last kept frame's by less than this mean
    absolute difference (grey levels, 0-255) is a near-duplicate (no motion) and left out; 0 keeps all."""

    def __post_init__(self) -> None:
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

    Raises:
        InputError: When OpenCV cannot open the file (from :meth:`frames`).
    """

    def __init__(self, path: Path, options: VideoOptions) -> None:
        self.path = path
        self.options = options
        self.frames_read = 0
        """Frames decoded."""
        self.near_duplicates = 0
        """Interval winners left out as near-duplicates of the frame kept before."""
        self.video_fps = ASSUMED_FPS
        """The video's frame rate (stated, or :data:`ASSUMED_FPS`)."""

    def _open(self) -> tuple[cv2.VideoCapture, float]:
        """The opened capture and the interval length in frames."""
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise InputError(f"cannot read the video {self.path}: OpenCV cannot open it (corrupt, cut short, or a "
                             "codec this build lacks); convert it to H.264 MP4, or extract its frames as photos")
        stated = capture.get(cv2.CAP_PROP_FPS)
        if math.isfinite(stated) and 0 < stated <= 1000:
            self.video_fps = stated
        interval = max(1.0, self.video_fps / self.options.fps)
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        if math.isfinite(count) and count > 0:
            interval = max(interval, count / self.options.max_frames)
        return capture, interval

    def frames(self) -> Iterator[Frame]:
        """Kept frames in time order (at most ``max_frames``)."""
        capture, interval = self._open()
        best: Frame | None = None
        last_thumb: np.ndarray | None = None
        kept = 0
        try:
            while kept < self.options.max_frames:
                ok, image = capture.read()
                if ok and image is not None and image.ndim == 2:
                    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
                index = self.frames_read
                if best is not None and (not ok or math.floor(index / interval) != math.floor(best.index / interval)):
                    thumb = thumbnail(best.image)
                    if last_thumb is None or float(np.abs(thumb - last_thumb).mean()) >= self.options.min_difference:
                        last_thumb, kept = thumb, kept + 1
                        yield best
                    else:
                        self.near_duplicates += 1
                    best = None
                if not ok or image is None:
                    break
                self.frames_read += 1
                score = sharpness(image)
                if best is None or score > best.sharpness:
                    best = Frame(index, index / self.video_fps, image, score)
        finally:
            capture.release()
