"""Options of the rolling-shutter correction of a sequence (:mod:`photogrammetry.sfm.rolling_shutter`)."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class RollingShutterOptions:
    """On a sequence (video frames, or a walk straight ahead), the readout time ``tau`` of a rolling shutter is
    searched on the refined model's own tracks: each frame's keypoints unrolled to its middle row's time with the
    frame's angular velocity (from its neighbouring frames), the model adjusted again as the final refinement
    adjusts it, ``tau`` kept where the tracks' robust (Cauchy) cost falls by ``min_gain``. Measured on the office
    walk (HoloLens frames 540 x 360, turning 8-10 degrees a frame): with the true cameras the tracks' cost is
    lowest at tau +0.02 to +0.05 in every 20-frame window (0-19 ... 40-59; 2-15 % below tau 0); the search on our
    own models finds +0.032 to +0.048 (docs/photos_without_exif.md, "Rolling shutter on the office walk")."""

    enabled: bool = False
    """Search ``tau`` on sequences (``--set sfm.rolling_shutter.enabled=true``); off: no search, the model as
    refined. Off by default: on the office windows 0-19, 10-29, 20-39, 40-59 (``cpu``, ``fast``) the focal length
    came within 2 % of the truth in 6 of 8 (main 4) and pose AUC@5 rose in 6 (0.147 -> 0.257 on 10-29 ``cpu``),
    but the depth maps against the sensor got worse (40-59 ``cpu``: kept depths within 2 % 0.435 -> 0.242;
    20-39: the per-view ratio's largest departure 2.1 -> 6.0 %)."""
    max_tau: float = 0.5
    """The search's bounds, +-this share of the frame interval (a phone's readout at 30 frames a second is
    0.3-1 of it; frames taken from a video at every k-th frame: 1/k of that)."""
    tolerance: float = 0.005
    """The search stops when ``tau`` is known within this."""
    min_gain: float = 0.005
    """Kept where the tracks' mean Cauchy cost falls by at least this share below ``tau`` 0 (one parameter over
    thousands of observations: a synthetic global-shutter walk gains 0.0 %). Office windows: 1.1-3.1 %."""

    def __post_init__(self) -> None:
        if not 0.0 < self.max_tau <= 2.0:
            raise ConfigError(f"rolling_shutter.max_tau must be within (0, 2] frame intervals, got {self.max_tau}")
        if not 0.0 < self.tolerance < self.max_tau:
            raise ConfigError(f"rolling_shutter.tolerance must be within (0, max_tau), got {self.tolerance}")
        if self.min_gain < 0:
            raise ConfigError(f"rolling_shutter.min_gain must be >= 0, got {self.min_gain}")
