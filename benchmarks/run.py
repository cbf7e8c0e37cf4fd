"""Benchmarks: our pipeline and COLMAP's SIFT pipeline side by side, on every set at hand.

    python benchmarks/run.py                       # all sample scenes and ../shared/data sets
    python benchmarks/run.py --sets temple,facade --preset fast --device cpu

For each set both methods run in child processes (wall time and peak memory are theirs
alone), then both are evaluated against the ground truth with :mod:`photogrammetry.evaluation`.
Prints an accuracy table and a time table, and writes everything as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.measure import run_measured  # noqa: E402
from benchmarks.sets import BenchmarkSet, available_sets  # noqa: E402
from benchmarks.table import print_tables  # noqa: E402


@dataclass
class MethodResult:
    """One method on one set."""

    set: str
    method: str
    seconds: float
    peak_rss_mb: float
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds per stage or step."""
    metrics: dict | None = None
    """``EvalReport.to_dict()``, or ``None`` without ground truth or output."""
    registered: int | None = None
    """Images in the largest model."""
    error: str | None = None


def _evaluate(model_or_workspace: Path, bset: BenchmarkSet, *, workspace: bool) -> dict | None:
    from photogrammetry.api import evaluate
    from photogrammetry.evaluation import Estimate, load_ground_truth
    from photogrammetry.evaluation import evaluate as evaluate_estimate

    if bset.gt is None:
        return None
    if workspace:
        return evaluate(model_or_workspace, bset.gt).to_dict()
    return evaluate_estimate(Estimate(sparse_model=model_or_workspace), load_ground_truth(bset.gt)).to_dict()


def run_ours(bset: BenchmarkSet, work: Path, args: argparse.Namespace) -> MethodResult:
    """Our pipeline through the CLI, then its status and evaluation."""
    import photogrammetry

    workspace = work / "ours"
    command = [sys.executable, "-m", "photogrammetry", "run", str(bset.images), "-w", str(workspace),
               "--preset", args.preset, "--device", args.device, "-q"]
    command += [a for s in args.set for a in ("--set", s)] + (["--until", args.until] if args.until else [])
    m = run_measured(command, work / "ours.log")
    result = MethodResult(bset.name, f"ours ({args.preset})", m.seconds, m.peak_rss_mb)
    if m.returncode != 0:
        result.error = m.stderr_tail
        return result
    status = photogrammetry.status(workspace)
    result.steps = {s.name: s.seconds for s in status.stages if s.seconds is not None}
    sparse = [s for s in status.stages if "sparse_model" in s.outputs and s.state == "done"]
    if sparse:
        import pycolmap

        result.registered = pycolmap.Reconstruction(sparse[0].outputs["sparse_model"]).num_reg_images()
    from photogrammetry.errors import InputError

    try:
        result.metrics = _evaluate(workspace, bset, workspace=True)
    except InputError:  # nothing evaluable yet (e.g. --until ingest)
        result.metrics = None
    except Exception as e:  # a benchmark reports a failed evaluation and goes on
        result.error = f"evaluation failed: {e}"
    return result


def run_baseline(bset: BenchmarkSet, work: Path) -> MethodResult:
    """COLMAP's SIFT + exhaustive + incremental pipeline (benchmarks/colmap_baseline.py)."""
    out = work / "colmap"
    m = run_measured([sys.executable, str(ROOT / "benchmarks" / "colmap_baseline.py"), str(bset.images), str(out)],
                     work / "colmap.log")
    result = MethodResult(bset.name, "colmap-sift", m.seconds, m.peak_rss_mb)
    if m.returncode != 0:
        result.error = m.stderr_tail
        return result
    summary = json.loads((out / "summary.json").read_text())
    result.steps = summary["seconds"]
    result.registered = max(summary["models"].values(), default=0)
    if (out / "sparse" / "best").is_dir():
        try:
            result.metrics = _evaluate(out / "sparse" / "best", bset, workspace=False)
        except Exception as e:  # a benchmark reports a failed evaluation and goes on
            result.error = f"evaluation failed: {e}"
    return result


def parse_args() -> argparse.Namespace:
    sets = available_sets()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(sets), help=f"comma-separated, from: {', '.join(sets)}")
    parser.add_argument("--preset", default="default", help="preset of our pipeline")
    parser.add_argument("--set", action="append", default=[], metavar="STAGE.OPTION=VALUE",
                        help="override for our pipeline; repeatable")
    parser.add_argument("--until", help="stop our pipeline after this stage")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--no-baseline", action="store_true", help="skip COLMAP's pipeline")
    parser.add_argument("--work", type=Path, help="keep workspaces here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="write all results as JSON here")
    args = parser.parse_args()
    unknown = [s for s in args.sets.split(",") if s not in sets]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; available: {', '.join(sets)}")
    return args


def main() -> None:
    args = parse_args()
    sets = available_sets()
    results: list[MethodResult] = []
    with tempfile.TemporaryDirectory(prefix="photogrammetry-bench-") as tmp:
        root = args.work or Path(tmp)
        for name in args.sets.split(","):
            print(f"[{name}] ours ...", file=sys.stderr, flush=True)
            results.append(run_ours(sets[name], root / name, args))
            if not args.no_baseline:
                print(f"[{name}] colmap-sift ...", file=sys.stderr, flush=True)
                results.append(run_baseline(sets[name], root / name))
    print_tables(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
