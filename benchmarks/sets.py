"""The photo sets benchmarks run on: our rendered sample scenes and the real sets in ../shared/data.

A real set can be cut to consecutive photos (:func:`first_frames`), e.g. the office video's first 20
frames, or to any of them (:func:`pick_frames`); :func:`set_ground_truth` then gives the ground truth
of those photos only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from photogrammetry.evaluation import GroundTruth

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class BenchmarkSet:
    """A folder of photos with (optionally) ground truth."""

    name: str
    """Short name used on the command line and in tables."""
    images: Path
    """Folder of photos."""
    gt: Path | None
    """Ground truth in a format :func:`photogrammetry.evaluation.load_ground_truth` reads."""
    kind: str
    """``sample`` (rendered by our code) or ``real``."""
    zoom: float = 1.0
    """Greater than 1: the photos are to be seen through a lens this many times longer (a centre crop scaled
    back, :func:`benchmarks.focal_photos.zoom`), the true focal lengths that many times longer."""


_REAL = {
    "temple": ("middlebury_templeSparseRing", "gt/templeSR_par.txt"),
    "fountain": ("strecha_fountain-P11", "gt/cameras"),
    "sacre_coeur": ("hloc_sacre_coeur", None),
    "office": ("deepvideomvs_hololens_office", "."),  # true cameras and sensor depth (an RGB-D sequence)
}

ZOOMED = {"temple-z2": ("temple", 2.0), "temple-z3": ("temple", 3.0), "fountain-z3": ("fountain", 3.0)}
"""Real long-lens proxies: a real set seen through a lens ``z`` times longer (``BenchmarkSet.zoom``). The
temple (1520 px at 640x480) at z 2 is the 3,000+ px object set of issue 24. Its object is wider than the crop:
at z 2, 57-71 % of its pixels (brighter than 40 of 255) stay inside, and it covers 48-78 % of the crop, in every
view (z 3: 23-41 % and 54-78 %); the fountain's facade fills its photos, and so every crop."""


def available_sets() -> dict[str, BenchmarkSet]:
    """Every set present on this machine, sample scenes first."""
    sets = {}
    for scene in sorted((ROOT / "sample_scenes").glob("*/gt/scene.json")):
        folder = scene.parents[1]
        sets[folder.name] = BenchmarkSet(folder.name, folder / "images", folder, "sample")
    for name, (folder, gt) in _REAL.items():
        if (SHARED_DATA / folder / "images").is_dir():
            sets[name] = BenchmarkSet(name, SHARED_DATA / folder / "images",
                                      SHARED_DATA / folder / gt if gt else None, "real")
    for name, (base, factor) in ZOOMED.items():
        if base in sets:
            sets[name] = replace(sets[base], name=name, zoom=factor)
    return sets


def first_frames(bset: BenchmarkSet, count: int, folder: Path, start: int = 0) -> BenchmarkSet:
    """``bset`` cut to ``count`` consecutive photos in name order from the ``start``-th (a video's
    frames ``start`` to ``start + count - 1``): links to them in ``folder/images`` (made afresh), named
    ``<set>-<count>`` (``<set>-<start>-<start + count>`` when ``start`` is not 0)."""
    total = len(photo_files(bset))
    if not (2 <= count and 0 <= start and start + count <= total):
        raise ValueError(f"{bset.name} has {total} photos; cannot take {count} from the {start}-th")
    name = f"{bset.name}-{count}" if start == 0 else f"{bset.name}-{start}-{start + count}"
    return pick_frames(bset, list(range(start, start + count)), folder, name)


def photo_files(bset: BenchmarkSet) -> list[Path]:
    """The set's photos in name order (a video's frames in order)."""
    return sorted(p for p in bset.images.iterdir() if p.is_file())


def pick_frames(bset: BenchmarkSet, indices: list[int], folder: Path, name: str) -> BenchmarkSet:
    """``bset`` cut to its photos at ``indices`` (in name order): links to them in ``folder/images``
    (made afresh), named ``name``."""
    photos = photo_files(bset)
    images = folder / "images"
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    for index in indices:
        (images / photos[index].name).symlink_to(photos[index])
    return replace(bset, name=name, images=images)


HELD_OUT_AT = (0.25, 0.5, 0.75)
"""Where along the walk ``benchmarks/room.py`` holds frames out (fractions of its length)."""


def split_frames(total: int, count: int, held_out_at: tuple[float, ...] = HELD_OUT_AT) -> tuple[list[int], list[int]]:
    """(``count`` input frames spread evenly along ``total``, the held-out frames), 0-based indices;
    no held-out frame is an input."""
    held = sorted({round(f * (total - 1)) for f in held_out_at})
    rest = [i for i in range(total) if i not in held]
    if not 3 <= count <= len(rest):
        raise ValueError(f"{total} frames with {len(held)} held out: cannot take {count} as input (3 to {len(rest)})")
    return [rest[int(i)] for i in np.round(np.linspace(0, len(rest) - 1, count))], held


def set_ground_truth(bset: BenchmarkSet) -> GroundTruth:
    """The set's ground truth restricted to the photos in its images folder (all views when none matches)."""
    from photogrammetry.evaluation import load_ground_truth

    if bset.gt is None:
        raise ValueError(f"{bset.name} has no ground truth")
    gt = load_ground_truth(bset.gt)
    names = {p.relative_to(bset.images).as_posix() for p in bset.images.rglob("*") if p.is_file()}
    views = {n: v for n, v in gt.views.items() if n in names}
    return replace(gt, views=views) if views else gt
