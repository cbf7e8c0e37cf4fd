"""Benchmark of the sfm stage against COLMAP's own SIFT pipeline, on the same sets in one run.

    python benchmarks/sfm.py                                  # every set present, preset fast
    python benchmarks/sfm.py --sets temple fountain --preset default --json sfm.json

For each set it runs our pipeline up to ``sfm`` (``photogrammetry.run``) and the baseline of
:mod:`benchmarks.colmap_baseline`, then compares both largest models with the ground truth
(:mod:`photogrammetry.evaluation`): registered images, pairwise relative-pose AUC at 1/2/5/10
degrees (unregistered images fail their pairs), median rotation and camera-centre error after a
Sim3 alignment, and wall time (ours: all stages from the photos; ``sfm s``: the sfm stage alone).
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

from benchmarks.sets import BenchmarkSet, available_sets  # noqa: E402


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
    sfm_s: float | None
    error: str | None = None


def evaluate(model: Path | None, bset: BenchmarkSet, images: int, method: str, wall: float,
             sfm_s: float | None) -> Row:
    """Pose metrics of ``model`` (a COLMAP model folder) against the set's ground truth."""
    from photogrammetry.evaluation import load_ground_truth
    from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses

    est = estimated_poses(model) if model is not None and model.is_dir() else {}
    row = Row(bset.name, method, images, len(est), None, None, False, None, round(wall, 1), sfm_s)
    if bset.gt is None:
        return row
    gt = load_ground_truth(bset.gt)
    m = evaluate_poses(est, gt)
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
    sfm = next(s for s in result.stages if s.name == "sfm")
    return evaluate(result.folder("sfm") / "model", bset, images, f"ours ({preset})", wall, round(sfm.seconds, 1))


def run_colmap(bset: BenchmarkSet, work: Path) -> Row:
    """COLMAP's SIFT pipeline at its defaults (the lead's baseline)."""
    from benchmarks.colmap_baseline import run_baseline

    images = len([p for p in bset.images.iterdir() if p.is_file()])
    t0 = time.perf_counter()
    summary = run_baseline(bset.images, work)
    wall = time.perf_counter() - t0
    return evaluate(work / "sparse" / "best", bset, images, "colmap sift", wall, round(summary["seconds"]["mapping"], 1))


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    """One line per set and method."""
    header = ["set", "method", "registered", "AUC@1", "AUC@2", "AUC@5", "AUC@10", "rot med deg",
              "centre med", "wall s", "sfm s"]
    lines = [header]
    for r in rows:
        auc = [_fmt((r.auc or {}).get(k), ".3f") for k in ("1", "2", "5", "10")]
        rot = _fmt(r.rotation_median_deg, ".3f") + ("*" if r.rotation_only_alignment else "")
        lines.append([r.set, r.method, f"{r.registered}/{r.images}", *auc, rot, _fmt(r.center_median, ".4f"),
                      f"{r.wall_s:.1f}", _fmt(r.sfm_s, ".1f")])
        if r.error:
            lines.append(["", f"error: {r.error[:100]}"] + [""] * (len(header) - 2))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)))


def main() -> None:
    sets = available_sets()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(sets), default=sorted(sets))
    parser.add_argument("--preset", default="fast", help="our preset (default: fast, CPU-friendly)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="stage.option=value")
    parser.add_argument("--no-baseline", action="store_true", help="skip COLMAP's pipeline")
    parser.add_argument("--work", type=Path, default=None, help="workspaces (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-sfm-"))
    rows = []
    for name in args.sets:
        rows.append(run_ours(sets[name], work / name / "ours", args.preset, args.overrides))
        if not args.no_baseline:
            rows.append(run_colmap(sets[name], work / name / "colmap"))
        print_table(rows[-2:] if not args.no_baseline else rows[-1:])
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
