"""How far the view moves along a video, and which frames to keep so that each moved on by the same
share of the frame (:mod:`photogrammetry.io.video`'s ``motion`` sampling).

:class:`MotionTracker` measures each step between consecutive frames: corners of the previous frame
(at most :data:`TRACK_POINTS`, on a grey copy :data:`TRACK_WIDTH` pixels wide) are tracked into the
next by pyramidal Lucas-Kanade and back, those that return within half a pixel count, and the step
is the 80th percentile of their displacements over the width (where parts of the view move at
different speeds, the frames follow the faster ones). With fewer than :data:`MIN_TRACKED` corners
left (a cut, a blur, a blank wall), the step is unknown. :func:`choose_keyframes` then picks the
frames from the steps, each frame's sharpness, and a time floor for views that change without moving.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

TRACK_WIDTH = 320
"""Width of the grey copy tracked (pixels)."""
TRACK_POINTS = 200
"""Most corners tracked per step."""
MIN_TRACKED = 20
"""Fewest corners tracked there and back for a step to count as measured."""
MOTION_PERCENTILE = 80
"""The percentile of the tracked corners' displacements taken as the step."""


class MotionTracker:
    """The motion of each frame fed to :meth:`step` from the one fed before it."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def step(self, bgr: np.ndarray) -> float | None:
        """How far the view moved since the previous frame, as a share of the width: ``0.0`` for the
        first frame, ``None`` where too few corners could be tracked."""
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        scale = TRACK_WIDTH / grey.shape[1]
        grey = cv2.resize(grey, (TRACK_WIDTH, max(8, round(grey.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        previous, self._previous = self._previous, grey
        if previous is None:
            return 0.0
        corners = cv2.goodFeaturesToTrack(previous, TRACK_POINTS, 0.01, 8)
        if corners is None or len(corners) < MIN_TRACKED:
            return None
        lk = dict(winSize=(21, 21), maxLevel=3)
        moved, found, _ = cv2.calcOpticalFlowPyrLK(previous, grey, corners, None, **lk)
        back, found_back, _ = cv2.calcOpticalFlowPyrLK(grey, previous, moved, None, **lk)
        ok = (found[:, 0] == 1) & (found_back[:, 0] == 1) & (np.linalg.norm(back - corners, axis=2)[:, 0] < 0.5)
        if ok.sum() < MIN_TRACKED:
            return None
        shift = np.linalg.norm(moved - corners, axis=2)[:, 0][ok]
        return float(np.percentile(shift, MOTION_PERCENTILE)) / TRACK_WIDTH


def choose_keyframes(steps: np.ndarray, sharpness: np.ndarray, spacing: float, max_frames: int, *, gap: float,
                     differs: Callable[[int, int], bool]) -> tuple[list[int], float]:
    """The frames to keep, and the spacing used.

    From the last kept frame, the sharpest frame whose view has moved on by between half and the
    whole spacing is kept; where one step jumps past the whole spacing, the frame after the jump.
    Where the view moves on by less than half a spacing within ``gap`` frames (a slow pan, or an
    object turning in front of a still camera, which the corners of the background outvote), the
    sharpest frame of the second half of those frames is kept, as interval sampling would, if
    ``differs`` from the last kept one (else the camera stood still: none). The first frame kept is
    the sharpest of those within half a spacing and half a gap of the start; the video's tail is
    left when it moves on by less than half a spacing within half a gap. Where that would keep more than
    ``max_frames``, the gap grows to span the video with them, then the spacing to the smallest
    that keeps at most that many.

    Args:
        steps: (N,) each frame's motion from the one before (shares of the width; the first 0; NaN:
            unknown, counted as a whole spacing).
        sharpness: (N,) each frame's sharpness.
        spacing: How far the view moves on between kept frames (share of the width), > 0.
        max_frames: The most frames to keep, >= 2.
        gap: The most frames between kept ones while the view changes, >= 1.
        differs: Whether frame ``a`` differs from frame ``b`` enough to be kept after it.
    """
    gap = max(gap, len(steps) / max_frames)

    def keep_at(at: float) -> list[int]:
        return _greedy(np.cumsum(np.where(np.isfinite(steps), steps, at)), sharpness, at, gap, differs)

    keep = keep_at(spacing)
    if len(keep) <= max_frames:
        return keep, float(spacing)
    low, high = float(spacing), 2.0 * spacing  # too many at low; double high until not
    while len(keep_at(high)) > max_frames and high < 1e6:
        low, high = high, 2.0 * high
    for _ in range(20):  # the smallest spacing that keeps at most max_frames, to 1e-6 of it
        middle = (low + high) / 2
        low, high = (middle, high) if len(keep_at(middle)) > max_frames else (low, middle)
    return keep_at(high)[:max_frames], high


def _greedy(moved: np.ndarray, sharpness: np.ndarray, spacing: float, gap: float,
            differs: Callable[[int, int], bool]) -> list[int]:
    """:func:`choose_keyframes` at one spacing and gap; ``moved`` is the cumulative motion (N,)."""
    frames = np.arange(len(moved))
    first = frames[(moved <= moved[0] + spacing / 2) & (frames <= gap / 2)]
    keep = [int(first[np.argmax(sharpness[first])])]
    anchor = float(keep[0])  # where the current gap starts: the last kept frame, or the end of a still gap
    while anchor + 1 < len(moved):
        last, base = keep[-1], moved[keep[-1]]
        window = frames[last + 1:int(anchor + gap) + 1]
        band = window[(moved[window] >= base + spacing / 2) & (moved[window] <= base + spacing)]
        beyond = window[moved[window] > base + spacing]
        late = window[window > anchor + gap / 2]
        if len(band):
            chosen = int(band[np.argmax(sharpness[band])])
        elif len(beyond):
            chosen = int(beyond[0])  # one step jumped past the whole spacing: the nearest frame after it
        elif not len(late):
            return keep  # the video ends within half a gap, moving on by less than half a spacing
        else:
            chosen = int(late[np.argmax(sharpness[late])])
            if not differs(chosen, last):
                anchor += gap  # the camera stood still through this gap: nothing kept
                continue
        keep.append(chosen)
        anchor = float(chosen)
    return keep
