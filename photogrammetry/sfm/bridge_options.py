"""The options of :mod:`photogrammetry.sfm.learned_bridge` (``sfm.learned_bridge``), apart from it so that
:mod:`photogrammetry.sfm.options` can nest them without importing the module that uses them."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class LearnedBridgeOptions:
    """``sfm.learned_bridge``: learned matches where the SIFT model leaves images out or has a weak link."""

    enabled: bool = False
    """Run it where the features are SIFT and the chosen model leaves images out or has a weak link. Off:
    on the office walk (60 frames, ``cpu``, load 8-12) two runs registered 60/60 where ``cpu`` registers
    48, with AUC@5 0.298 and 0.481 (``cpu``: 0.317-0.348), but the 12 frames bridged were 23 % and 8 % off
    the rest's scale, which no check without ground truth told apart, and the sfm stage took 107-186 s
    (``cpu``: 27-46 s). docs/benchmarks.md, "Where SIFT breaks: learned matches around the break"."""
    neighbours: int = 3
    """Images either side in name order that join the images around a break; pairs of them at most this far
    apart in name order are matched. Office walk, 60 frames (``cpu``; the 12 frames bridged against the
    true cameras, ``benchmarks/drift.py``): 2, 30 pairs, those frames 16-19 % off the rest's scale; 3, 48
    pairs, 8-9 %; 4, 68 pairs, 6-7.5 %, its matching 115 s against 57 s for 3 (the largest departure along the
    walk 9.7 and 9.9 %, frame 23's, against 8.5 % with the 12 left out)."""
    most_matched: int = 0
    """Registered images, by most raw matches, also paired with each image left out (for photos whose names
    are not a sequence). 0: on the office walk (60 frames) the 10 such pairs of 1 verified none."""
    max_images: int = 60
    """Most images given learned features; above, the images nearest a break in name order are kept."""
    max_keypoints: int = 1024
    """XFeat keypoints per image. Office walk, 60 frames: 1024 and 2048 both register the 12 frames left
    out; 1024 matched in 60 s where 2048 took 100 s (load 10-11)."""
    resize_max: int = 1600
    """Longest side of an image given to XFeat (as the features stage's default)."""

    remap: bool = False
    """Map the bridged database again from nothing (the stage's mapping, retries included) instead of
    continuing the mapper from the chosen model (:func:`~photogrammetry.sfm.learned_bridge.extend`)."""

    def __post_init__(self) -> None:
        for name in ("neighbours", "max_images", "max_keypoints", "resize_max"):
            if getattr(self, name) < 1:
                raise ConfigError(f"sfm.learned_bridge.{name} must be >= 1, got {getattr(self, name)}")
        if self.most_matched < 0:
            raise ConfigError(f"sfm.learned_bridge.most_matched must be >= 0, got {self.most_matched}")
