"""Benchmark of the sfm stage against COLMAP's own SIFT pipeline, on the same sets in one run.

    python benchmarks/sfm.py                                  # every set present, preset fast
    python benchmarks/sfm.py --sets temple fountain --preset default --json sfm.json
    python benchmarks/sfm.py --sets temple fountain --frames 8 --preset default xfeat   # two presets, one run
    python benchmarks/sfm.py --sets office-spread --preset cpu auto   # auto: the preset it kept is shown

For each set it runs our pipeline up to ``sfm`` (``photogrammetry.run``) with each preset given and
the baseline of :mod:`benchmarks.colmap_baseline`, then compares the largest models with the ground
truth (:mod:`photogrammetry.evaluation`): registered images, pairwise relative-pose AUC at 1/2/5/10
degrees (unregistered images fail their pairs), median rotation and camera-centre error after a
Sim3 alignment, and wall time (ours: all stages from the photos, i.e. the sparse part, with the
seconds of the features, matches and sfm stages; COLMAP: extraction, matching and mapping). The
machine may be shared: compare times as ratios within one run. pycolmap, which both use, is
imported before either runs (printed: until then our first set paid it and COLMAP's run got it free).
``--frames N`` cuts real sets to their first N photos (in name order; ``--first-frame F``: from the F-th, 0-based)
and scores them against those
photos' ground truth. ``office-spread`` is the office walk's frames spread along it instead, every third
(``--frames`` of them, 20 when not given): the input frames of ``benchmarks/room.py``, far apart.
Where the camera centres are collinear (a sideways walk) no Sim3 fits the centres alone; the
evaluation then takes the rotation from the cameras' orientations, and the error is marked with ``*``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.sets import (BenchmarkSet, available_sets, first_frames, photo_files, pick_frames,  # noqa: E402
                            set_ground_truth, split_frames)
from benchmarks.table import fmt, print_markdown  # noqa: E402

STEPS = ("features", "matches", "sfm")
"""Our stages whose seconds are reported (COLMAP's steps are put in the same columns)."""


@dataclass
class Row:
    """One method on one set."""

    set: str
    method: str
    images: int
    registered: int
    auc: dict[str, float] | None
    rotation_median_deg: float | None
    rotation_only_alignment: bool
    center_median: float | None
    wall_s: float
    steps: dict[str, float] | None
    """Seconds of :data:`STEPS` (COLMAP: extraction, matching, mapping)."""
    error: str | None = None


def evaluate(model: Path | None, bset: BenchmarkSet, images: int, method: str, wall: float,
             steps: dict[str, float] | None) -> Row:
    """Pose metrics of ``model`` (a COLMAP model folder) against the ground truth of the set's photos."""
    from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses

    est = estimated_poses(model) if model is not None and model.is_dir() else {}
    row = Row(bset.name, method, images, len(est), None, None, False, None, round(wall, 1), steps)
    if bset.gt is None:
        return row
    m = evaluate_poses(est, set_ground_truth(bset))
    row.registered, row.auc = m.num_registered, {f"{k:g}": round(v, 3) for k, v in m.auc.items()}
    row.rotation_median_deg, row.center_median = m.rotation_error_median_deg, m.center_error_median
    row.rotation_only_alignment = m.aligned_by_orientations
    return row


def run_ours(bset: BenchmarkSet, work: Path, preset: str, overrides: list[str]) -> Row:
    """Our pipeline from the photos up to sfm."""
    import photogrammetry

    images = len([p for p in bset.images.iterdir() if p.is_file()])
    t0 = time.perf_counter()
    try:
        result = photogrammetry.run(bset.images, work, preset=preset, until="sfm", overrides=overrides,
                                    progress=False)
    except photogrammetry.errors.PhotogrammetryError as err:
        return Row(bset.name, f"ours ({preset})", images, 0, None, None, False, None,
                   round(time.perf_counter() - t0, 1), None, str(err))
    wall = time.perf_counter() - t0
    steps = {s.name: round(s.seconds, 1) for s in result.stages if s.name in STEPS}
    used = photogrammetry.status(work).preset  # auto: the preset it resolved to, or escalated to
    method = f"ours ({preset}: {used})" if used != preset else f"ours ({preset})"
    return evaluate(result.folder("sfm") / "model", bset, images, method, wall, steps)


def run_colmap(bset: BenchmarkSet, work: Path) -> Row:
    """COLMAP's SIFT pipeline at its defaults (the lead's baseline)."""
    from benchmarks.colmap_baseline import run_baseline

    images = len([p for p in bset.images.iterdir() if p.is_file()])
    t0 = time.perf_counter()
    summary = run_baseline(bset.images, work)
    wall = time.perf_counter() - t0
    seconds = summary["seconds"]
    steps = {ours: round(seconds[theirs], 1) for ours, theirs in zip(STEPS, ("features", "matching", "mapping"))}
    return evaluate(work / "sparse" / "best", bset, images, "colmap sift", wall, steps)


def print_table(rows: list[Row]) -> None:
    """One Markdown line per set and method; ``x colmap``: wall time over COLMAP's on the same set."""
    colmap = {r.set: r.wall_s for r in rows if r.method == "colmap sift"}
    header = ["set", "method", "registered", "AUC@1", "AUC@2", "AUC@5", "AUC@10", "rot med deg", "centre med",
              "wall s", "x colmap", *(f"{step} s" for step in STEPS), "error"]
    lines = []
    for r in rows:
        auc = [fmt((r.auc or {}).get(k), ".3f") for k in ("1", "2", "5", "10")]
        rot = fmt(r.rotation_median_deg, ".3f") + ("*" if r.rotation_only_alignment else "")
        ratio = fmt(r.wall_s / colmap[r.set], ".2f") if colmap.get(r.set) else "-"
        steps = [fmt((r.steps or {}).get(step), ".1f") for step in STEPS]
        lines.append([r.set, r.method, f"{r.registered}/{r.images}", *auc, rot, fmt(r.center_median, ".4f"),
                      f"{r.wall_s:.1f}", ratio, *steps, (r.error or "")[:80]])
    print_markdown(header, lines)


SPREAD = {"office-spread": "office"}
"""Sets of frames spread along a walk (:func:`spread_set`), by the set they are taken from."""


def spread_set(bset: BenchmarkSet, name: str, count: int, folder: Path) -> BenchmarkSet:
    """``count`` frames spread evenly along ``bset``'s walk, as ``benchmarks/room.py`` takes them (three
    frames it holds out excepted), named ``name``."""
    return pick_frames(bset, split_frames(len(photo_files(bset)), count)[0], folder, name)


def main() -> None:
    sets = available_sets()
    sets.update({name: sets[source] for name, source in SPREAD.items() if source in sets})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(sets), default=sorted(sets))
    parser.add_argument("--preset", nargs="+", default=["fast"], help="our presets, each run (default: fast)")
    parser.add_argument("--frames", type=int, default=0, help="real sets of more photos: their first N only (0: all)")
    parser.add_argument("--first-frame", type=int, default=0,
                        help="with --frames: the N photos from this one (0-based, in name order), not the first N")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="stage.option=value")
    parser.add_argument("--no-baseline", action="store_true", help="skip COLMAP's pipeline")
    parser.add_argument("--work", type=Path, default=None, help="workspaces (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-sfm-"))
    t0 = time.perf_counter()
    import pycolmap  # noqa: F401  both methods use it: its import counts against neither

    print(f"pycolmap imported in {time.perf_counter() - t0:.2f} s, outside both methods' times")
    rows = []
    for name in args.sets:
        bset = sets[name]
        if name in SPREAD:
            bset = spread_set(bset, f"{name}-{args.frames or 20}", args.frames or 20, work / name / "cut")
        elif args.frames and bset.kind == "real" and args.frames < len(list(bset.images.iterdir())):
            bset = first_frames(bset, args.frames, work / name / "cut", start=args.first_frame)
        done = len(rows)
        for preset in args.preset:
            rows.append(run_ours(bset, work / name / f"ours-{preset}", preset, args.overrides))
        if not args.no_baseline:
            rows.append(run_colmap(bset, work / name / "colmap"))
        print_table(rows[done:])
        print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
