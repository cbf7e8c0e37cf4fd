"""The photo sets benchmarks run on: our rendered sample scenes and the real sets in ../shared/data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


_REAL = {
    "temple": ("middlebury_templeSparseRing", "gt/templeSR_par.txt"),
    "fountain": ("strecha_fountain-P11", "gt/cameras"),
    "sacre_coeur": ("hloc_sacre_coeur", None),
}


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
    return sets
