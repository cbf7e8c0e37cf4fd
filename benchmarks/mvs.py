"""MVS benchmark: learned vs classical depth maps and fused clouds on the sample scenes, side by side.

    python benchmarks/mvs.py                                   # lite and ncc on every sample scene
    python benchmarks/mvs.py --methods lite,ncc,disk --scenes turntable --device cuda
    python benchmarks/mvs.py --speed --device cuda             # one 1600x1200 map, 5 sources (+ COLMAP)
    python benchmarks/mvs.py --real office --frames 20 --cameras true,fast --scenes facade  # vs the sensor

Runs on the ground-truth cameras of the scenes (``gt/sparse``, PINHOLE), so MVS is measured
apart from SfM, and evaluates with :mod:`photogrammetry.evaluation` in the GT frame. Each
(scene, method) runs in a child process, so that wall time and peak memory are its own.
Turntable scenes use their object masks (the static background turns relative to the object:
a real turntable capture comes with masks); the other scenes use none. The fused cloud's
recall counts the GT surface that at least two cameras see ("observed": its fraction of the GT
mesh; :mod:`photogrammetry.evaluation.observability`); the table also gives the F-score of the
ground truth's own depth maps fused the same way ("oracle"), the ceiling on that scene.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.measure import run_measured  # noqa: E402
from benchmarks.table import print_markdown  # noqa: E402

SCENES = ROOT / "sample_scenes"
HEADER = ["scene", "method", "masks", "<=0.5%", "<=1%", "<=2%", "compl", "F@0.5%", "F@1%", "P@1%", "R@1%",
          "oracle F@1%", "observed", "s/view", "fusion s", "peak RSS MB", "GPU MB"]


def scene_paths(name: str, masks: str) -> tuple[Path, Path | None]:
    """The scene folder and the masks folder to use (``auto``: turntable scenes only)."""
    folder = SCENES / name
    kind = json.loads((folder / "gt" / "scene.json").read_text()).get("kind")
    use = masks == "all" or (masks == "auto" and kind == "turntable")
    return folder, (folder / "gt" / "masks") if use and (folder / "gt" / "masks").is_dir() else None


PROPAGATION_SUFFIX = "+pm"
"""A method name ending in this runs with PatchMatch propagation (``depth.propagation.enabled``)."""
GEOMETRIC_SUFFIX = "+geo"
"""A method name ending in this (after ``+pm`` if both) runs the geometric-consistency pass
(``depth.geometric.enabled``)."""


WEIGHTS_SEPARATOR = "@"
"""``lite-reg@/tmp/candidate.pt``: the method with these weights (a candidate beside the committed ones)."""


def folder_name(label: str) -> str:
    """A method label as one folder name (a weights file's path flattened)."""
    return label.replace("/", "_")


def depth_config(label: str, args: argparse.Namespace):
    """The depth stage's config of a method label (``lite``, ``ncc+pm``, ``ncc+pm+geo``, ``lite-reg@FILE+pm``) at
    ``--max-image-size``, with the ``--set depth.option=value`` overrides."""
    from photogrammetry.engine.settings import apply_overrides, parse_assignment
    from photogrammetry.engine.options import unflatten
    from photogrammetry.stages.depth import STAGE, DepthConfig

    flat = {"geometric.enabled": True} if label.endswith(GEOMETRIC_SUFFIX) else {}
    method = label.removesuffix(GEOMETRIC_SUFFIX)
    if method.endswith(PROPAGATION_SUFFIX):
        flat["propagation.enabled"] = True
    method = method.removesuffix(PROPAGATION_SUFFIX)
    method, _, weights = method.partition(WEIGHTS_SEPARATOR)
    if weights:
        flat["weights"] = weights
    for text in args.set or []:
        stage, option, value = parse_assignment(text)
        if stage != "depth":
            raise SystemExit(f"--set {text}: only depth options can be set here")
        flat[option] = value
    config = DepthConfig(method=method, max_image_size=args.max_image_size)
    return apply_overrides(STAGE, config, unflatten(flat), "--set")


def oracle_maps(scene, gt, out: Path, size: int) -> None:
    """The GT depth of every view, masked like the estimates, written as a depth artifact."""
    import numpy as np

    from photogrammetry.evaluation.raycast import gt_depth_map
    from photogrammetry.io.depth import DepthSummary, save_depth_summary, save_maps
    from photogrammetry.mvs.geometry import normals_from_depth
    from photogrammetry.mvs.multiview import depth_record, read_mask, working_views

    records = []
    for name, view in working_views(scene, size).items():
        depth = gt_depth_map(gt, name, width=view.width, height=view.height).astype(np.float32)
        mask = read_mask(view)
        depth = np.where(mask, depth, 0).astype(np.float32) if mask is not None else depth
        save_maps(out, name, depth, normals_from_depth(depth, view.K), np.ones_like(depth))
        records.append(depth_record(view, [0.0, 0.0], [], depth, mask is not None, out))
    save_depth_summary(out, DepthSummary(method="oracle", learned=False, views=tuple(records)))


def child(args: argparse.Namespace) -> None:
    """One scene with one method (or ``oracle``: GT depth): maps, fusion, evaluation -> JSON."""
    import torch

    from photogrammetry.engine.runner import resolve_device
    from photogrammetry.evaluation import Estimate, Sim3, evaluate, load_ground_truth
    from photogrammetry.io.depth import load_depth, save_depth_summary
    from photogrammetry.mvs.multiview import compute_depth
    from photogrammetry.mvs.scene import load_scene
    from photogrammetry.stages.fusion import FusionConfig, fuse

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    folder, masks = scene_paths(args.scene, args.masks)
    scene = load_scene(folder / "images", folder / "gt" / "sparse", masks)
    gt = load_ground_truth(folder)
    out = args.work
    t0 = time.perf_counter()
    if args.method == "oracle":
        oracle_maps(scene, gt, out, args.max_image_size)
    else:
        save_depth_summary(out, compute_depth(scene, depth_config(args.method, args), out, device=device))
    t1 = time.perf_counter()
    fuse(FusionConfig(method=args.fusion), load_depth(out), out, device)
    t2 = time.perf_counter()
    report = evaluate(Estimate(depth_dir=out / "depth", points_path=out / "fused.ply", to_gt=Sim3()), gt)
    gpu = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    result = {"scene": args.scene, "method": args.method, "masks": masks is not None, "device": device,
              "seconds_per_view": (t1 - t0) / len(scene.views), "fusion_seconds": t2 - t1, "gpu_peak_mb": gpu,
              "metrics": report.to_dict()}
    args.json.write_text(json.dumps(result, indent=2))


CURVE_THRESHOLDS = (0.0025, 0.005, 0.01, 0.02, 0.04)
"""Relative depth differences allowed by the consistency check, for accuracy-completeness curves."""


def depth_curve(scene_name: str, method: str, folder: Path, args: argparse.Namespace) -> list[tuple[float, float]]:
    """(depth within 0.5 %, completeness) of a finished run re-filtered at each of :data:`CURVE_THRESHOLDS`
    (within 0.5 % of the extent: within 1 % is near 1 for every method on some scenes)."""
    from dataclasses import replace

    from photogrammetry.io.items import ItemStore
    from photogrammetry.evaluation import load_ground_truth
    from photogrammetry.evaluation.depth_metrics import evaluate_depth, find_depth_maps
    from photogrammetry.mvs.multiview import filter_all, working_views
    from photogrammetry.mvs.scene import load_scene
    from photogrammetry.mvs.selection import select_sources
    from photogrammetry.stages.depth import DepthConfig

    scene_dir, masks = scene_paths(scene_name, args.masks)
    scene = load_scene(scene_dir / "images", scene_dir / "gt" / "sparse", masks)
    gt = load_ground_truth(scene_dir)
    options = DepthConfig(method=method, max_image_size=args.max_image_size)
    views, sources = working_views(scene, options.max_image_size), select_sources(scene, options.selection)
    points = []
    for threshold in CURVE_THRESHOLDS:
        out = folder / f"curve-{threshold}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        (out / ".raw").symlink_to(folder / ".raw")
        refilter = replace(options, filtering=replace(options.filtering, max_relative_depth=threshold))
        filter_all(scene, views, sources, refilter, out, device="cpu", items=ItemStore(folder / ".raw-items"))
        metrics = evaluate_depth(find_depth_maps(out / "depth", scene.names), gt)
        points.append((metrics.within[0.005], metrics.completeness))
    return points


def at_accuracy(curve: list[tuple[float, float]], accuracy: float) -> str:
    """Completeness of a curve at ``accuracy``, linear in between; where every point of the curve is
    more accurate, its largest completeness prefixed by ``>=`` (it is reached at a better accuracy)."""
    ordered = sorted(curve)
    for (a0, c0), (a1, c1) in zip(ordered, ordered[1:]):
        if a0 <= accuracy <= a1:
            return f"{c0 if a1 == a0 else c0 + (c1 - c0) * (accuracy - a0) / (a1 - a0):.3f}"
    if ordered and ordered[0][0] > accuracy:
        return f">={max(c for _, c in ordered):.3f}"
    return "-"


def print_curves(work: Path, args: argparse.Namespace) -> None:
    """Completeness of every method at the classical method's accuracy, from the runs kept in ``work``."""
    rows = []
    for scene in args.scenes.split(","):
        curves = {m: depth_curve(scene, m, work / f"{scene}-{m}", args) for m in args.methods.split(",")
                  if (work / f"{scene}-{m}" / ".raw").is_dir()}
        if "ncc" not in curves:
            continue
        accuracy = curves["ncc"][CURVE_THRESHOLDS.index(0.01)][0]
        for method, curve in curves.items():
            shown = " ".join(f"{a:.3f}/{c:.3f}" for a, c in curve)
            rows.append([scene, method, f"{accuracy:.3f}", at_accuracy(curve, accuracy), shown])
    header = ["scene", "method", "ncc <=0.5%", "completeness there",
              "curve: <=0.5% / completeness at rel. depth " + "/".join(f"{t:g}" for t in CURVE_THRESHOLDS)]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for cells in [header, *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |")


def run_child(scene: str, method: str, work: Path, args: argparse.Namespace) -> dict:
    """Run :func:`child` in a fresh process; its JSON plus wall time and peak RSS."""
    folder = work / f"{scene}-{folder_name(method)}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    command = [sys.executable, __file__, "--child", "--scene", scene, "--method", method, "--work", str(folder),
               "--json", str(folder / "result.json"), "--device", args.device, "--masks", args.masks,
               "--max-image-size", str(args.max_image_size), "--fusion", args.fusion, "--threads", str(args.threads),
               *(f"--set={text}" for text in args.set or [])]
    measured = run_measured(command, folder / "log.txt")
    if measured.returncode != 0:
        return {"scene": scene, "method": method, "error": measured.stderr_tail}
    result = json.loads((folder / "result.json").read_text())
    return {**result, "wall_seconds": measured.seconds, "peak_rss_mb": measured.peak_rss_mb}


def _f(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def row(result: dict, oracle: dict | None) -> list[str]:
    """One table row."""
    if "error" in result:
        return [result["scene"], result["method"], "", "error: " + result["error"][-80:]] + [""] * (len(HEADER) - 4)
    depth, points = result["metrics"].get("depth") or {}, result["metrics"].get("points") or {}
    within = depth.get("within", {})
    oracle_f = ((oracle or {}).get("metrics", {}).get("points") or {}).get("fscore", {}).get("1%")
    return [result["scene"], result["method"], "yes" if result["masks"] else "no", _f(within.get("0.5%")),
            _f(within.get("1%")), _f(within.get("2%")), _f(depth.get("completeness")),
            _f(points.get("fscore", {}).get("0.5%")), _f(points.get("fscore", {}).get("1%")),
            _f(points.get("precision", {}).get("1%")), _f(points.get("recall", {}).get("1%")), _f(oracle_f),
            _f(points.get("observed_fraction")), _f(result["seconds_per_view"], ".2f"),
            _f(result["fusion_seconds"], ".1f"), _f(result["peak_rss_mb"], ".0f"), _f(result["gpu_peak_mb"], ".0f")]


def print_table(rows: list[list[str]]) -> None:
    """A Markdown table."""
    print_markdown(HEADER, rows)


def parse_args() -> argparse.Namespace:
    scenes = sorted(p.parents[1].name for p in SCENES.glob("*/gt/scene.json"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", default=",".join(scenes), help=f"comma-separated, from: {', '.join(scenes)}")
    parser.add_argument("--methods", default="lite,ncc",
                        help=f"comma-separated MVS methods (registry names, each optionally {WEIGHTS_SEPARATOR}WEIGHTS "
                             f"FILE; with {PROPAGATION_SUFFIX}: PatchMatch propagation on; then with "
                             f"{GEOMETRIC_SUFFIX}: the geometric-consistency pass on)")
    parser.add_argument("--set", action="append", metavar="depth.OPTION=VALUE",
                        help="a depth stage option for every run (repeatable)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--masks", default="auto", choices=["auto", "all", "none"])
    parser.add_argument("--max-image-size", type=int, default=640, help="longest side of the depth maps")
    parser.add_argument("--fusion", default="points", choices=["points", "tsdf"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--speed", action="store_true", help="time one 1600x1200 map instead")
    parser.add_argument("--repeats", type=int, default=3, help="--speed: timed sweeps per method (the median)")
    parser.add_argument("--curves", type=Path, metavar="WORK",
                        help="accuracy-completeness curves of the runs kept in WORK (from --work)")
    parser.add_argument("--work", type=Path, help="keep outputs here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="write all results as JSON here")
    parser.add_argument("--real", choices=["office"], help="score against the sensor depth of this real set")
    parser.add_argument("--frames", type=int, default=0, help="--real: its first N frames only (0: all)")
    parser.add_argument("--first-frame", type=int, default=0,
                        help="--real with --frames: frames K to K+N-1 instead (0-based; e.g. held-out frames)")
    parser.add_argument("--cameras", default="true,fast",
                        help="--real: comma-separated: true (the true cameras), true-refined (their rotations and focal refined "
                             "on the photos, centres held), true-rotations (the rotations only) and/or pipeline presets (ours)")
    parser.add_argument("--check-gt", action="store_true",
                        help="--real: also check the true cameras (sensor depth reprojected 3-5 and 20-50 frames on)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        return child(args)
    if args.speed:
        from benchmarks import mvs_speed

        return mvs_speed.speed(args, SCENES)
    if args.curves:
        return print_curves(args.curves, args)
    if args.real:
        from benchmarks import mvs_real

        with tempfile.TemporaryDirectory(prefix="photogrammetry-mvs-real-") as tmp:
            return mvs_real.main(args, args.work or Path(tmp))
    results, rows = [], []
    with tempfile.TemporaryDirectory(prefix="photogrammetry-mvs-bench-") as tmp:
        work = args.work or Path(tmp)
        for scene in args.scenes.split(","):
            print(f"[{scene}] oracle ...", file=sys.stderr, flush=True)
            oracle = run_child(scene, "oracle", work, args)
            for method in args.methods.split(","):
                print(f"[{scene}] {method} ...", file=sys.stderr, flush=True)
                result = run_child(scene, method, work, args)
                results.append(result)
                rows.append(row(result, oracle))
    print_table(rows)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
