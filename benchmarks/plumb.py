"""The straight-line lens check (:mod:`photogrammetry.sfm.plumb`) alone, on real photos and renders.

    python benchmarks/plumb.py                                   # every row below
    python benchmarks/plumb.py --rows office sacre_coeur         # some of them
    python benchmarks/plumb.py --data /work/shared/data          # the real sets elsewhere than ../shared/data

Rows (corner shift in %, ``truth -> measured +- sd``, the principal point at the image centre):

- ``office``: the office video's frames 0-19, 20-39 and 40-59 as they are (no distortion: undistorted by
  its makers) and resampled through ``k1`` -0.05, +0.05, -0.15 and +0.15 about the true principal point
  (``benchmarks.focal_photos.distort``: a barrel lens zoomed in until it sees no farther than the photo), measured
  at the true focal length (times the zoom); the truth is the warp's corner shift about the image centre;
- ``temple``, ``fountain``: every photo, at the true focal length, as they are (truth unknown, near 0);
- ``renders``: the sample scenes, at their EXIF focal length (pinhole renders: truth 0);
- ``sacre_coeur``: the landmark photos (domes and arches; each from its own camera, of its own size): each
  photo alone at 1.2 x its longest side, with ``min_photos`` 1 and ``min_lines`` 3 (the check itself asks 3
  photos and 20 lines, so it says "no evidence" of every one).

A pinhole photo must come back within its sd of 0 or as no evidence; a warped one near its truth.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks import sets as bench_sets  # noqa: E402
from benchmarks.focal import true_focal  # noqa: E402
from benchmarks.focal_photos import distort, stripped_copy  # noqa: E402
from benchmarks.table import print_markdown  # noqa: E402

WARPS = (0.0, -0.05, 0.05, -0.15, 0.15)
"""The office rows' ``k1`` (0: as they are)."""


def _fit(photos: list[Path], focal: float, **changes):
    """:func:`~photogrammetry.sfm.plumb.measure` at the image centre, the options changed by ``changes``; its
    seconds."""
    from photogrammetry.sfm import plumb
    from photogrammetry.sfm.plumb_options import PlumbOptions

    images = [plumb.read_gray(p) for p in photos]
    height, width = images[0].shape
    t0 = time.perf_counter()
    fit = plumb.measure(images, focal, (width / 2, height / 2), dataclasses.replace(PlumbOptions(), **changes))
    return fit, time.perf_counter() - t0


def _cell(truth: float | None, fit) -> str:
    head = "?" if truth is None else f"{100 * truth:+.1f}"
    if fit.evident:
        return f"{head} -> {100 * fit.corner_shift:+.1f} +- {100 * fit.sd:.1f} ({fit.lines}, {getattr(fit, 'curved', 0)} curved)"
    measured = "" if fit.corner_shift is None else f"{100 * fit.corner_shift:+.1f}, "
    return f"{head} -> {measured}no evidence: {fit.reason[:40]} ({fit.lines}, {getattr(fit, 'curved', 0)} curved)"


def office_rows(sets: dict, work: Path) -> list[list[str]]:
    """One row per third of the office video, one column per warp."""
    from photogrammetry.sfm import plumb

    office = sets["office"]
    rows = []
    for start in (0, 20, 40):
        cut = bench_sets.first_frames(office, 20, work / f"office-{start}", start)
        gt = bench_sets.set_ground_truth(cut)
        row = [f"office {start}-{start + 19}"]
        for k1 in WARPS:
            photos = stripped_copy(cut, work / f"office-{start}-{k1}")
            zoom = distort(photos, gt, k1) if k1 else 1.0
            focal = true_focal(gt, photos) * zoom
            files = sorted(photos.iterdir())
            height, width = plumb.read_gray(files[0]).shape
            radius = plumb.corner_radius(width, height, (width / 2, height / 2))
            fit, seconds = _fit(files, focal)
            row.append(_cell(plumb.corner_shift(k1, focal, radius), fit) + f" {seconds:.1f} s")
            shutil.rmtree(photos, ignore_errors=True)
        rows.append(row)
    return rows


def whole_set_rows(sets: dict, names: list[str]) -> list[list[str]]:
    """A set at its true (real) or EXIF (renders) focal length, all its photos as one camera."""
    rows = []
    for name in names:
        bset = sets[name]
        files = bench_sets.photo_files(bset)
        focal = true_focal(bench_sets.set_ground_truth(bset), bset.images)
        fit, seconds = _fit(files, focal)
        truth = 0.0 if bset.kind == "sample" else None
        rows.append([name, _cell(truth, fit) + f" {seconds:.1f} s"] + [""] * (len(WARPS) - 1))
    return rows


def landmark_rows(sets: dict) -> list[list[str]]:
    """The landmark photos one by one (each its own camera)."""
    from photogrammetry.sfm import plumb

    rows = []
    for path in bench_sets.photo_files(sets["sacre_coeur"]):
        height, width = plumb.read_gray(path).shape
        fit, seconds = _fit([path], 1.2 * max(width, height), min_photos=1, min_lines=3)
        rows.append([f"sacre_coeur {path.stem}", _cell(None, fit) + f" {seconds:.1f} s"] + [""] * (len(WARPS) - 1))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=["office", "temple", "fountain", "renders", "sacre_coeur"],
                        choices=["office", "temple", "fountain", "renders", "sacre_coeur"])
    parser.add_argument("--data", type=Path, default=None, help="the real sets' folder (default: ../shared/data)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    if args.data is not None:
        bench_sets.SHARED_DATA = args.data
    sets = bench_sets.available_sets()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-plumb-"))
    rows = []
    for name in args.rows:
        if name == "renders":
            rows += whole_set_rows(sets, [n for n, s in sets.items() if s.kind == "sample"])
        elif name not in sets:
            print(f"{name}: not on this machine, left out", file=sys.stderr)
        elif name == "office":
            rows += office_rows(sets, work)
        elif name == "sacre_coeur":
            rows += landmark_rows(sets)
        else:
            rows += whole_set_rows(sets, [name])
    print_markdown(["photos", *(f"k1 {k:+.2f}" if k else "as they are" for k in WARPS)], rows)


if __name__ == "__main__":
    main()
