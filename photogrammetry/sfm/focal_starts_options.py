"""Options of the light first pass's focal starts (:mod:`photogrammetry.sfm.focal_starts`)."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class FocalStartsOptions:
    """Where a camera has no focal prior, the light first pass (:mod:`~photogrammetry.sfm.focal_pass`)
    maps from several starting focal lengths, not only COLMAP's guess, and keeps, among the starts whose
    largest model holds at least half the connected images, the one with the lowest reprojection error."""

    factors: tuple[float, ...] = (1.2, 0.6, 2.4, 5.0)
    """The starting focal lengths, times the longest image side, in the order they are tried (the first
    is COLMAP's guess, 1.2; empty or one: that start only, as COLMAP does). 0.6 is a wide angle (79
    degrees across), 2.4 a short tele lens, 5.0 a long one (3,000+ px on 640 px images)."""
    converged: float = 0.02
    """The starts stop early where the best start so far holds at least half the connected images and
    another start ended within this fraction of its focal length: both found the same camera."""
    clear_margin: float = 0.25
    """... or where another start that holds half the connected images too ended at a mean reprojection
    error more than this fraction above the best's: the best is clearly the better answer. Measured gaps
    between the sound 1.2x start and a wrong 0.6x one: office 20-39 / 40-59 (``cpu``) 0.44 / 0.49 px
    against 0.70 / 0.86, the 60 frames (``cpu`` / ``fast``) 0.42 / 0.45 against 0.62 / 0.79 (the starts
    after them only confirmed the 1.2x one); between a bent and a sound model (office 40-59, ``xfeat``)
    only 1.26 against 1.12 px, where the starts go on. The 60 frames' stage (``fast``): 4 starts, 63.5 s
    against main's 33.8 (load 9)."""

    def __post_init__(self) -> None:
        if any(not f > 0 for f in self.factors):
            raise ConfigError(f"focal_starts.factors must all be > 0 (times the longest image side), "
                              f"got {self.factors}")
        if self.clear_margin <= 0:
            raise ConfigError(f"focal_starts.clear_margin must be > 0, got {self.clear_margin}")
        if not 0.0 < self.converged < 1.0:
            raise ConfigError(f"focal_starts.converged must be within (0, 1), got {self.converged}")
