"""Options of the initial pair check (:mod:`photogrammetry.sfm.initial_pair`)."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class InitialPairOptions:
    """Where COLMAP would start an incremental model from a pair whose pose a homography decides and
    an essential matrix contradicts, start it from the next pair in COLMAP's own order instead."""

    enabled: bool = True
    """Check the pairs COLMAP would start from (:func:`~photogrammetry.sfm.initial_pair.choose`). Off:
    COLMAP's choice. Measured on the office frames 40-59 (``cpu``, the same matches): COLMAP started
    from 00246-00254, a planar pair whose homography pose is 19.9 degrees off the true one (its
    essential matrix: 0.5), and the model bent (relative rotations 17.4 degrees off at the median,
    reprojection error 0.92 px); started from the next pair, 1.1 degrees, 0.51 px."""
    max_disagreement_deg: float = 3.0
    """A pair of a planar or panoramic configuration whose homography pose and essential-matrix pose
    differ in rotation by more than this many degrees is not an initial pair: one of the two is wrong
    and nothing in the pair tells which (office 00246-00254: 19.4 degrees)."""
    max_pairs: int = 200
    """Most pairs estimated while looking for an initial pair (each one two-view RANSAC); where none of
    them is found the choice is left to COLMAP."""

    def __post_init__(self) -> None:
        if not 0.0 < self.max_disagreement_deg < 180.0:
            raise ConfigError(f"initial_pair.max_disagreement_deg must be within (0, 180) degrees, got "
                              f"{self.max_disagreement_deg}")
        if self.max_pairs < 1:
            raise ConfigError(f"initial_pair.max_pairs must be >= 1, got {self.max_pairs}")
