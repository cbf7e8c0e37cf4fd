"""Benchmark of features + matching: speed and match precision against ground-truth geometry.

    python benchmarks/features.py                          # every set with ground truth, CPU or CUDA
    python benchmarks/features.py --sets temple --device cpu --max-keypoints 1024 --window 2

For each set and each method (DISK+LightGlue, ALIKED+LightGlue, SIFT+NN) it runs the real
``features``, ``pairs`` and ``matches`` stages (so the times include reading images, moving data
and writing HDF5), with sequential pairs (``--window`` neighbours each way, ring closed), then
measures each match's symmetric epipolar distance under the ground-truth cameras (where the
ground truth has depth maps, only matches on surfaces with depth count: a turntable's static
background does not move with the ground-truth cameras). Prints a table:
keypoints/s of the features stage, pairs/s of the matches stage, matches per pair and the
fraction of matches within 1 and 2 px. ``--json`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.sets import BenchmarkSet, available_sets  # noqa: E402

METHODS = {"disk+lightglue": "disk", "aliked-n16+lightglue": "aliked-n16", "aliked-n32+lightglue": "aliked-n32",
           "xfeat+lighterglue": "xfeat", "sift+nn": "sift"}
"""Method name -> extractor (the matcher is ``auto``)."""


@dataclass
class Row:
    """One method on one set."""

    set: str
    method: str
    device: str
    images: int
    keypoints_per_image: float
    keypoints_per_s: float
    pairs: int
    pairs_per_s: float
    matches_per_pair: float
    evaluated: int
    precision_1px: float
    precision_2px: float
    median_inlier_px: float
    """Median epipolar error of the matches within 2 px: how precisely the keypoints are localised."""


def calibrated_views(bset: BenchmarkSet, features: Path) -> tuple[dict, dict | None]:
    """Ground-truth cameras of the set at the size of the features' images, and where GT depth
    exists (``None`` without depth maps): matches elsewhere (sky, a turntable's static background)
    are not counted."""
    import cv2

    from photogrammetry.evaluation import load_ground_truth
    from photogrammetry.io.features import FeatureFile
    from photogrammetry.matching.epipolar import CalibratedView

    gt = load_ground_truth(bset.gt)
    views, valid = {}, {}
    with FeatureFile(features) as ff:
        for name in (n for n in ff.names() if n in gt.views):
            view, size = gt.views[name], ff.read(name, descriptors=False).image_size
            camera = view.camera.scaled_to(*size)
            views[name] = CalibratedView(K=camera.K, R=view.pose.R, t=view.pose.t)
            if view.depth_path is not None:
                depth = cv2.imread(str(view.depth_path), cv2.IMREAD_UNCHANGED)
                valid[name] = cv2.resize((depth > 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return views, (valid if len(valid) == len(views) else None)


def run_method(bset: BenchmarkSet, method: str, workspace: Path, args: argparse.Namespace) -> Row:
    """Run features, pairs and matches for one method; time them and measure precision."""
    import photogrammetry
    from photogrammetry.matching.epipolar import match_errors

    overrides = [f"features.extractor={METHODS[method]}", f"features.max_keypoints={args.max_keypoints}",
                 f"features.resize_max={args.resize_max}", f"features.resize_min={args.resize_min}",
                 "pairs.method=sequential",
                 f"pairs.window={args.window}", "pairs.loop_closure=wrap"]
    result = photogrammetry.run(bset.images, workspace, overrides=overrides, until="matches", device=args.device,
                                progress=False, force=("features",))
    stages = {s.name: s for s in result.stages}
    feats, matches = stages["features"], stages["matches"]
    views, valid = calibrated_views(bset, result.folder("features") / "features.h5")
    errors = match_errors(result.folder("features") / "features.h5", result.folder("matches") / "matches.h5",
                          views, valid=valid)
    flat = np.concatenate(list(errors.values())) if errors else np.zeros(0)
    from photogrammetry.engine.runner import resolve_device

    return Row(
        set=bset.name, method=method, device=resolve_device(args.device), images=feats.counts["images"],
        keypoints_per_image=feats.counts["mean_keypoints"],
        keypoints_per_s=feats.counts["keypoints"] / max(feats.seconds, 1e-9),
        pairs=matches.counts["pairs"], pairs_per_s=matches.counts["pairs"] / max(matches.seconds, 1e-9),
        matches_per_pair=matches.counts["mean_matches"], evaluated=len(flat),
        precision_1px=float((flat < 1.0).mean()) if len(flat) else float("nan"),
        precision_2px=float((flat < 2.0).mean()) if len(flat) else float("nan"),
        median_inlier_px=float(np.median(flat[flat < 2.0])) if (flat < 2.0).any() else float("nan"),
    )


def print_table(rows: list[Row]) -> None:
    """A Markdown table of the rows."""
    header = ["set", "method", "device", "images", "kp/image", "kp/s", "pairs", "pairs/s", "matches/pair",
              "evaluated", "prec@1px", "prec@2px", "median px (<2px)"]
    cells = [[r.set, r.method, r.device, str(r.images), f"{r.keypoints_per_image:.0f}", f"{r.keypoints_per_s:.0f}",
              str(r.pairs), f"{r.pairs_per_s:.2f}", f"{r.matches_per_pair:.0f}", str(r.evaluated),
              f"{r.precision_1px:.3f}", f"{r.precision_2px:.3f}", f"{r.median_inlier_px:.3f}"] for r in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *cells, strict=True)]
    for i, line in enumerate([header, *cells]):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", help="comma-separated set names (default: every set with ground truth)")
    parser.add_argument("--methods", default="disk+lightglue,aliked-n16+lightglue,sift+nn",
                        help=f"comma-separated, from: {', '.join(METHODS)}")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--max-keypoints", type=int, default=2048)
    parser.add_argument("--resize-max", type=int, default=1600)
    parser.add_argument("--resize-min", type=int, default=0, help="upsample smaller images to this size")
    parser.add_argument("--window", type=int, default=3, help="sequential neighbours each way")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--work", type=Path, help="workspace root (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sets = {k: v for k, v in available_sets().items() if v.gt is not None}
    chosen = args.sets.split(",") if args.sets else list(sets)
    unknown = [s for s in chosen if s not in sets]
    if unknown:
        parser.error(f"unknown or ground-truth-less sets {unknown}; available: {', '.join(sets)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work or Path(tmp)
        for name in chosen:
            for method in args.methods.split(","):
                rows.append(run_method(sets[name], method, root / name, args))
                print(f"done: {name} {method}", file=sys.stderr)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
