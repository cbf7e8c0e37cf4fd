"""Depth maps of a real set scored against its sensor depth, with the true cameras and with ours.

    python benchmarks/mvs.py --real office --frames 20 --cameras true,fast --methods lite,ncc
    python benchmarks/mvs.py --real office --frames 60 --check-gt --cameras "" --scenes ""
    python benchmarks/mvs.py --real office --frames 20 --first-frame 20 --cameras true --scenes ""  # frames 20-39

Cameras (``--cameras``):

- ``true``: the set's true cameras (PINHOLE), with sparse points lifted from the sensor depth and
  tracks by a depth test, as the sample scenes' ``gt/sparse`` (MVS measured apart from SfM);
- ``true-refined``: the same with each rotation and one shared focal refined on the photos' tracks,
  the centres held (:mod:`benchmarks.camera_refine`); ``true-rotations``: the rotations only;
- a preset name (``fast``, ``default``): our pipeline up to ``undistort`` on the frames; its cameras
  are aligned to the true ones by a Sim3 fitted on the camera centres (robustly), and its depths
  multiplied by the Sim3's scale into metres. Camera drift is then depth error.

Every camera source gets the depth stage's default settings (``DepthConfig``) at
``--max-image-size``. Sources and depth ranges come from the sparse points, as in the pipeline.
Scores (:mod:`photogrammetry.evaluation.sensor_depth`, by reprojection into the true camera): kept
fraction, kept depths within 1/2/5 % of the sensor, median relative error, sensor pixels given a
depth within 5 %, the same three after dividing out each view's median ratio, and the
per-view median ratio along the sequence (its spread around its median: camera drift). Sample
scenes (``--scenes``) get the same scores against their exact GT depth, with their GT cameras.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.photo_warp import grey, textured, warped_zncc
from benchmarks.sets import available_sets, first_frames, set_ground_truth
from benchmarks.table import print_markdown
from photogrammetry.errors import InputError
from photogrammetry.evaluation import GroundTruth, Sim3, gt_depth_map, load_ground_truth
from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.pose_metrics import evaluate_poses
from photogrammetry.evaluation.sensor_depth import (
    PosedDepth,
    SensorComparison,
    compare_with_sensor,
    lift,
    sample,
    sensor_metrics,
)
from photogrammetry.mvs.scene import MVSScene, MVSView


@dataclass
class CameraSource:
    """Cameras to run MVS with, and how they map into the ground truth's frame."""

    label: str
    """``true``, a preset name or ``GT`` (sample scenes)."""
    scene: MVSScene
    """Views, poses and sparse points MVS works on."""
    to_gt: Sim3
    """From the cameras' frame to the ground truth's (identity for true cameras)."""
    centre_errors: dict[str, float] = field(default_factory=dict)
    """Camera-centre error after alignment, GT units, per view."""
    camera_note: str = ""
    """The intrinsics the cameras use, in words."""


def sensor_posed(gt: GroundTruth, name: str) -> PosedDepth:
    """The sensor (GT) depth of a view with its true camera."""
    view = gt.views[name]
    return PosedDepth(depth=gt_depth_map(gt, name), camera=view.camera, pose=view.pose)


def true_scene(gt: GroundTruth, names: list[str], per_view: int = 300, tolerance: float = 0.02,
               seed: int = 0) -> MVSScene:
    """The true cameras with sparse points: ``per_view`` sensor pixels of each view lifted to 3D,
    seen by every view whose sensor depth agrees within ``tolerance`` where they project."""
    rng = np.random.default_rng(seed)
    sensors = {n: sensor_posed(gt, n) for n in names}
    lifted = [lift(sensors[n])[0] for n in names]
    points = np.concatenate([p[rng.choice(len(p), size=min(per_view, len(p)), replace=False)] for p in lifted])
    observations = {}
    for name in names:
        z, found = sample(sensors[name], points)
        observations[name] = np.flatnonzero((found > 0) & (np.abs(z / np.maximum(found, 1e-12) - 1) <= tolerance))
    views = {}
    for name in names:
        v = gt.views[name]
        views[name] = MVSView(name=name, image_path=v.image_path, mask_path=None, K=v.camera.K, R=v.pose.R,
                              t=v.pose.t, width=v.camera.width, height=v.camera.height)
    return MVSScene(views=views, points=points, observations=observations)


def sfm_cameras(images: Path, gt: GroundTruth, preset: str, work: Path, device: str) -> CameraSource:
    """Our pipeline up to ``undistort`` on ``images`` with ``preset``, aligned to ``gt``."""
    import pycolmap

    import photogrammetry
    from photogrammetry.io.undistort import load_undistort
    from photogrammetry.mvs.scene import load_scene

    result = photogrammetry.run(images, work / f"workspace-{preset}", preset=preset, until="undistort",
                                device=device, progress=False)
    undistorted = load_undistort(result.folder("undistort"))
    scene = load_scene(undistorted.image_dir, undistorted.model)
    poses = {n: CameraPose(R=v.R, t=v.t) for n, v in scene.views.items()}
    to_gt, errors, how = align(poses, gt)
    cameras = pycolmap.Reconstruction(str(result.folder("sfm") / "model")).cameras.values()
    note = "; ".join(f"{c.model.name} {np.array2string(np.asarray(c.params), precision=4)}" for c in cameras)
    note += f"; {len(poses)} views registered, aligned {how}"
    return CameraSource(label=preset, scene=scene, to_gt=to_gt, centre_errors=errors, camera_note=note)


def align(poses: dict[str, CameraPose], gt: GroundTruth) -> tuple[Sim3, dict[str, float], str]:
    """The Sim3 from our cameras to the true ones (as ``photogrammetry eval`` fits it: by the camera
    centres, or by the cameras' orientations along a nearly straight walk), per-view centre errors
    (GT units) and how it was fitted."""
    names = [n for n in gt.names if n in poses]
    metrics = evaluate_poses(poses, gt)
    if metrics.alignment is None:
        raise RuntimeError(f"{len(poses)} registered views; cannot align them to the true cameras")
    sim = metrics.alignment
    centres = {n: float(np.linalg.norm(sim.apply(poses[n].center) - gt.views[n].pose.center)) for n in names}
    how = "by orientations" if metrics.aligned_by_orientations else "by camera centres"
    return sim, centres, f"{how} (median rotation error {metrics.rotation_error_median_deg:.2f} deg)"


def run_depth(scene: MVSScene, method: str, out: Path, args: argparse.Namespace, device: str) -> float:
    """Depth maps of every view into ``out`` (emptied first: no view is resumed, so the time is the
    whole computation's) with the depth stage's defaults (and ``--set``); seconds per view."""
    from benchmarks.mvs import depth_config
    from photogrammetry.io.depth import save_depth_summary
    from photogrammetry.mvs.multiview import compute_depth

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    save_depth_summary(out, compute_depth(scene, depth_config(method, args), out, device=device))
    return (time.perf_counter() - start) / len(scene.views)


def score(out: Path, gt: GroundTruth, to_gt: Sim3) -> dict[str, SensorComparison]:
    """Every depth map of ``out`` (a depth artifact), moved into the GT frame, against the sensor."""
    from photogrammetry.io.depth import load_array, load_depth

    comparisons = {}
    for view in load_depth(out).summary.views:
        if view.name not in gt.views:
            continue
        camera = PinholeCamera(K=np.array(view.K), width=view.width, height=view.height)
        pose = to_gt.apply_to_pose(CameraPose(R=np.array(view.R), t=np.array(view.t)))
        depth = load_array(out / "depth" / f"{view.name}.npy").astype(np.float64) * to_gt.scale
        comparisons[view.name] = compare_with_sensor(PosedDepth(depth=depth, camera=camera, pose=pose),
                                                     sensor_posed(gt, view.name))
    return comparisons


def source_gap(out: Path, order: list[str]) -> float:
    """Median distance in frames between each view and its sources (a video's overlap is local)."""
    from photogrammetry.io.depth import load_depth

    index = {n: i for i, n in enumerate(order)}
    gaps = [abs(index[s] - index[v.name]) for v in load_depth(out).summary.views for s in v.sources
            if v.name in index and s in index]
    return float(np.median(gaps)) if gaps else float("nan")


def check_pairs(gt: GroundTruth, names: list[str], gaps: tuple[int, ...]) -> dict:
    """The true cameras checked: the sensor depth of frame i reprojected into frame i + gap."""
    sensors = {n: sensor_posed(gt, n) for n in names}
    ratios, overlaps = [], []
    for i, name in enumerate(names):
        for gap in gaps:
            if i + gap < len(names):
                comparison = compare_with_sensor(sensors[name], sensors[names[i + gap]])
                ratios.append(comparison.ratios)
                overlaps.append(len(comparison.ratios) / max(int((sensors[name].depth > 0).sum()), 1))
    if not ratios:
        return {"gaps": list(gaps), "pairs": 0}
    error = np.abs(np.concatenate(ratios) - 1)
    return {"gaps": list(gaps), "pairs": len(ratios), "overlap": float(np.mean(overlaps)),
            "median_ratio": float(np.median(np.concatenate(ratios))),
            "within_1%": float(np.mean(error <= 0.01)), "within_5%": float(np.mean(error <= 0.05)),
            "median_error": float(np.median(error))}


def photo_scale(gt: GroundTruth, a: str, b: str, scales: np.ndarray) -> tuple[float, float]:
    """The factor on frame ``a``'s sensor depth that lines photo ``b`` up with photo ``a`` best through
    the true cameras (median 7x7 ZNCC over textured pixels), and the ZNCC at factor 1."""
    grey_a, grey_b = grey(gt.views[a].image_path), grey(gt.views[b].image_path)
    sensor, other = sensor_posed(gt, a), gt.views[b]
    where = textured(grey_a) & (sensor.depth > 0)
    points, pixels = lift(sensor)
    centre = sensor.pose.center
    scores = []
    for factor in scales:
        moved = centre + (points - centre) * factor
        uvw = (moved @ other.pose.R.T + other.pose.t) @ other.camera.K.T
        scores.append(warped_zncc(grey_a, grey_b, pixels, uvw[:, :2] / uvw[:, 2:], where, min_pixels=101))
    scores = np.array(scores)
    if np.all(np.isnan(scores)):
        return float("nan"), float("nan")
    return float(scales[int(np.nanargmax(scores))]), float(scores[int(np.argmin(np.abs(scales - 1)))])


def photo_check(gt: GroundTruth, names: list[str], gap: int = 3, step: int = 4) -> list[dict]:
    """Photos against the true cameras along the sequence: for frames ``step`` apart, the sensor-depth
    factor that lines up the photo ``gap`` frames on best (1 for consistent photos, depth and poses)."""
    scales = np.round(np.arange(0.90, 1.1001, 0.01), 2)
    out = []
    for i in range(0, len(names) - gap, step):
        best, at_one = photo_scale(gt, names[i], names[i + gap], scales)
        out.append({"frame": i, "view": names[i], "other": names[i + gap], "best_factor": best, "zncc_at_1": at_one})
    return out


def row(set_name: str, source: CameraSource, method: str, comparisons: dict, seconds: float, gap: float) -> dict:
    """One result: the sensor metrics, the per-view ratios, the cameras' errors."""
    metrics = sensor_metrics(comparisons)
    ratios = np.array(list(metrics.view_ratios.values()))
    spread = np.abs(ratios / np.median(ratios) - 1) if len(ratios) else np.zeros(0)
    return {"set": set_name, "cameras": source.label, "method": method, "kept": metrics.kept,
            "within": {f"{t:g}": v for t, v in metrics.within.items()}, "median_error": metrics.median_error,
            "covered_5%": metrics.covered, "covered_5%_own": metrics.covered_per_view_ratio,
            "within_per_view_ratio": {f"{t:g}": v for t, v in metrics.within_per_view_ratio.items()},
            "view_ratios": metrics.view_ratios, "ratio_median": float(np.median(ratios)) if len(ratios) else None,
            "ratio_spread_max": float(spread.max()) if len(spread) else None,
            "centre_errors": source.centre_errors, "seconds_per_view": seconds, "source_gap": gap}


def real_sources(args: argparse.Namespace, work: Path, device: str) -> tuple[str, GroundTruth, list[CameraSource]]:
    """The real set cut to ``--frames``, its ground truth and the camera sources of ``--cameras``."""
    bset = available_sets()[args.real]
    if args.frames:
        bset = first_frames(bset, args.frames, work / "photos", start=args.first_frame)
    gt = set_ground_truth(bset)
    sources = []
    for label in [c for c in args.cameras.split(",") if c]:
        if label == "true":
            sources.append(CameraSource(label="true", scene=true_scene(gt, gt.names), to_gt=Sim3(),
                                        camera_note="true PINHOLE " + np.array2string(
                                            gt.views[gt.names[0]].camera.K[[0, 1, 0, 1], [0, 1, 2, 2]])))
        elif label in ("true-refined", "true-rotations"):
            from benchmarks.camera_refine import refined_source

            sources.append(refined_source(bset.images, gt, work / bset.name, device, label))
        else:
            sources.append(sfm_cameras(bset.images, gt, label, work / bset.name, device))
    return bset.name, gt, sources


def sample_source(name: str, masks: str) -> tuple[GroundTruth, CameraSource]:
    """A sample scene with its GT cameras (its ``gt/sparse``) and exact GT depth."""
    from benchmarks.mvs import scene_paths
    from photogrammetry.mvs.scene import load_scene

    folder, masks_dir = scene_paths(name, masks)
    scene = load_scene(folder / "images", folder / "gt" / "sparse", masks_dir)
    return load_ground_truth(folder), CameraSource(label="GT", scene=scene, to_gt=Sim3())


def run_all(args: argparse.Namespace, work: Path, device: str) -> dict:
    """Every (set, cameras, method): depth maps scored against the sensor; the GT check."""
    from benchmarks.mvs import folder_name

    jobs = [(n, *sample_source(n, args.masks)) for n in args.scenes.split(",") if n]
    name, gt, sources = real_sources(args, work, device)
    jobs += [(name, gt, s) for s in sources]
    rows = []
    for set_name, truth, source in jobs:
        for method in args.methods.split(","):
            print(f"[{set_name}] {source.label} cameras, {method} ...", flush=True)
            out = work / set_name / f"depth-{source.label}-{folder_name(method)}"
            try:
                seconds = run_depth(source.scene, method, out, args, device)
            except InputError as err:  # e.g. a view of a broken model with no sparse point ahead: a finding
                rows.append({"set": set_name, "cameras": source.label, "method": method, "error": str(err),
                             "view_ratios": {}, "centre_errors": source.centre_errors})
                continue
            rows.append(row(set_name, source, method, score(out, truth, source.to_gt), seconds,
                            source_gap(out, source.scene.names)))
    checks = [check_pairs(gt, gt.names, g) for g in ((3, 4, 5), (20, 30, 40, 50))] if args.check_gt else []
    photo = photo_check(gt, gt.names) if args.check_gt else []
    notes = {s.label: s.camera_note for s in sources}
    return {"set": name, "frames": len(gt.views), "rows": rows, "checks": checks, "photo_check": photo,
            "cameras": notes, "order": gt.names}


def _f(value, spec: str = ".3f") -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)


HEADER = ["set", "cameras", "method", "kept", "<=1%", "<=2%", "<=5%", "med err", "sensor <=5%",
          "own ratio <=2%/<=5%/sensor <=5%", "ratio med", "ratio spread max", "src gap", "s/view"]


def _cells(r: dict) -> list[str]:
    """One row of the accuracy table."""
    if "error" in r:
        return [r["set"], r["cameras"], r["method"], "error: " + r["error"][:100]] + [""] * (len(HEADER) - 4)
    own = r["within_per_view_ratio"]
    return [r["set"], r["cameras"], r["method"], _f(r["kept"]), _f(r["within"]["0.01"]), _f(r["within"]["0.02"]),
            _f(r["within"]["0.05"]), _f(r["median_error"], ".4f"), _f(r["covered_5%"]),
            f"{_f(own['0.02'])}/{_f(own['0.05'])}/{_f(r.get('covered_5%_own'))}", _f(r["ratio_median"], ".4f"),
            _f(r["ratio_spread_max"], ".4f"),
            _f(r["source_gap"], ".1f"), _f(r["seconds_per_view"], ".2f")]


def print_results(results: dict) -> None:
    """The accuracy table, the drift table along the sequence, the cameras and the GT check."""
    print_markdown(HEADER, [_cells(r) for r in results["rows"]])
    print_drift(results)
    for label, note in results["cameras"].items():
        print(f"cameras {label}: {note}")
    for check in results["checks"]:
        print(f"true cameras checked: sensor depth of frame i in frame i+{check['gaps']}: {check['pairs']} pairs, "
              f"overlap {_f(check.get('overlap'))}, within 1 % {_f(check.get('within_1%'))}, within 5 % "
              f"{_f(check.get('within_5%'))}, median difference {_f(check.get('median_error'), '.4f')}, "
              f"median ratio {_f(check.get('median_ratio'), '.4f')}")
    if results["photo_check"]:
        print("photos against the true cameras: sensor-depth factor that lines up the photo 3 frames on best "
              "(1 = consistent; ZNCC at 1):")
        print("  " + ", ".join(f"{p['frame']}: {_f(p['best_factor'], '.2f')} ({_f(p['zncc_at_1'], '.2f')})"
                               for p in results["photo_check"]))


def _against_true(real: list[dict]) -> dict[tuple[str, str], dict[str, float]]:
    """Per run on our own cameras: each view's depth ratio over the true cameras' ratio with the same
    method. The sensor's own errors cancel; what is left is what our cameras add (their drift)."""
    true = {r["method"]: r["view_ratios"] for r in real if r["cameras"] == "true"}
    out = {}
    for r in real:
        if r["cameras"] != "true" and r["method"] in true:
            out[(r["cameras"], r["method"])] = {n: v / true[r["method"]][n] for n, v in r["view_ratios"].items()
                                                if true[r["method"]].get(n)}
    return out


def print_drift(results: dict) -> None:
    """Per view of the real set: median depth ratio (ours / sensor) per run, the ratio of our cameras'
    maps over the true cameras' ones, centre error per cameras; then the spread of that ratio."""
    real = [r for r in results["rows"] if r["set"] == results["set"]]
    if not real:
        return
    cameras = {r["cameras"]: r["centre_errors"] for r in real if r["centre_errors"]}
    relative = _against_true(real)
    header = ["frame", "view"] + [f"ratio {r['cameras']}/{r['method']}" for r in real]
    header += [f"{c}/true ({m})" for c, m in relative] + [f"centre err cm ({c})" for c in cameras]
    rows = []
    for index, name in enumerate(results["order"]):
        cells = [str(index), name] + [_f(r["view_ratios"].get(name), ".4f") for r in real]
        cells += [_f(v.get(name), ".4f") for v in relative.values()]
        rows.append(cells + [_f(100 * e[name], ".1f") if name in e else "-" for e in cameras.values()])
    print()
    print_markdown(header, rows)
    for (label, method), ratios in relative.items():
        values = np.array(list(ratios.values()))
        if len(values):
            spread = np.abs(values / np.median(values) - 1)
            print(f"{label} cameras against the true ones ({method}): depth ratio median {np.median(values):.4f}, "
                  f"within 1 % of it for {np.mean(spread <= 0.01):.0%} of the views, largest departure "
                  f"{spread.max():.1%}")
    print()


def main(args: argparse.Namespace, work: Path) -> None:
    """Run, print, write the JSON (``--out``)."""
    from photogrammetry.engine.runner import resolve_device

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = run_all(args, work, resolve_device(args.device))
    print_results(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
