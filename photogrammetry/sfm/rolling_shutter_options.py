"""Options of the rolling-shutter correction of a sequence (:mod:`photogrammetry.sfm.rolling_shutter`)."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class RollingShutterOptions:
    """On a sequence (video frames, or a walk straight ahead), the readout time ``tau`` of a rolling shutter is
    searched on the refined model's own tracks: each frame's keypoints unrolled to its middle row's time with the
    frame's angular velocity (from its neighbouring frames), the model adjusted again, ``tau`` kept where the
    tracks' robust (Cauchy) cost falls by ``min_gain``. Measured on the office walk (HoloLens frames 540 x 360,
    turning 8-10 degrees a frame): with the true cameras the tracks' cost is lowest at tau +0.02 to +0.05 in
    every 20-frame window (0-19 ... 40-59; 2-15 % below tau 0); on our own models at +0.02 to +0.04 too, pose
    AUC@5 of a plain adjustment of the final models up in 10 of 10 windows (``cpu`` and ``fast``); in the stage it
    is not better (``enabled``)."""

    enabled: bool = False
    """Search ``tau`` on sequences (``--set sfm.rolling_shutter.enabled=true``); off: no search, the model as
    mapped. Off by default: on the office walk the search finds the readout the true cameras show (+0.016 to
    +0.042 on the mapped models of 0-19, 10-29, 20-39, 40-59, ``cpu`` and ``fast``; kept in 7 of 8), but the
    corrected models' focal lengths ended further from the truth in 5 of the 7 (by 0.4-0.8 points; 10-29
    and 20-39 ``fast`` 1.6 and 0.2 points nearer), pose AUC@5 up in 4 and down in 2 (README, "Rolling shutter on the office walk")."""
    max_tau: float = 0.5
    """The search's bounds, +-this share of the frame interval (a phone's readout at 30 frames a second is
    0.3-1 of it; frames taken from a video at every k-th frame: 1/k of that)."""
    tolerance: float = 0.005
    """The search stops when ``tau`` is known within this."""
    min_gain: float = 0.005
    """Kept where the tracks' mean Cauchy cost falls by at least this share below ``tau`` 0 (one parameter over
    thousands of observations: a global-shutter sequence gains far less). Office windows: 1.0-2.2 %."""

    def __post_init__(self) -> None:
        if not 0.0 < self.max_tau <= 2.0:
            raise ConfigError(f"rolling_shutter.max_tau must be within (0, 2] frame intervals, got {self.max_tau}")
        if not 0.0 < self.tolerance < self.max_tau:
            raise ConfigError(f"rolling_shutter.tolerance must be within (0, max_tau), got {self.tolerance}")
        if self.min_gain < 0:
            raise ConfigError(f"rolling_shutter.min_gain must be >= 0, got {self.min_gain}")
