"""Scale drift of our cameras along a walk, against the true cameras, from the sparse model alone.

    python benchmarks/drift.py                                    # office, 20 frames, presets fast cpu default
    python benchmarks/drift.py --frames 40 --preset cpu --work /tmp/drift   # a workspace to reuse
    python benchmarks/drift.py --model path/to/sfm/model --sets office --frames 20   # a model made elsewhere

The cheap, sparse twin of ``benchmarks/mvs.py --real office --cameras true,<preset>`` (its drift
table): no depth maps. For each set and preset it runs our pipeline up to ``sfm`` on the set's
first ``--frames`` photos (a video's frames in order), aligns the largest model to the true cameras
(the Sim3 of :func:`photogrammetry.evaluation.pose_metrics.evaluate_poses`) and measures, per view:

- **depth ratio**: every track of the model is triangulated again with the true cameras from the same
  2D observations (linear, kept where it reprojects within ``--max-error`` px into every view of the
  track and lies in front of them); the view's ratio is the median over its observations of the
  point's depth in our aligned camera (metres, via the Sim3's scale) over its depth in the true camera.
  This is what a depth map made with our cameras gains over one made with the true ones, the sensor
  out of it. Its spread around its median along the set is the drift (target: every view within 1 %);
- **baseline ratio**: the median, over the registered views at most ``--neighbours`` frames away, of
  the aligned distance between the two camera centres over the true distance (the local scale of the
  walk; noisier where the camera barely moves);
- **sensor ratio** (sets with depth maps, e.g. the office walk): the median of our aligned depth of
  the view's points over the sensor's depth at their pixels, the yardstick of the last session; it
  carries the sensor's own disagreement with the true cameras (see below);
- **true/sensor** (the same sets): the true cameras' depth of the same points over the sensor's, how the
  two yardsticks disagree on that view;
- the camera-centre error after alignment (cm for a set in metres) and the rotation error (deg).

The per-view table gives each ratio over its median along the set. The summary line per run:
registered views, then for each ratio its median, the fraction of views within 1 % of it and the
largest departure.

On the office walk the two yardsticks disagree: the points of our tracks triangulated with the true
cameras lie 1.053 x the sensor's depth at the first frame and 0.966 x at the twentieth (default
preset's tracks), while the true cameras carry one frame's sensor depth onto another's with a median
difference of 0.27 % 3-5 frames apart and 0.67 % 20-50 apart (``benchmarks/mvs.py --check-gt``). Where ``depth`` and
``sensor`` differ, read both (docs/benchmarks.md, "Scale along a walk").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.sets import available_sets, first_frames, set_ground_truth  # noqa: E402
from benchmarks.table import fmt, print_markdown  # noqa: E402


@dataclass
class Drift:
    """Per-view scale of one model against the true cameras."""

    label: str
    names: list[str]
    """Every photo of the set, in order (registered or not)."""
    depth_ratio: dict[str, float] = field(default_factory=dict)
    sensor_ratio: dict[str, float] = field(default_factory=dict)
    """Per view: median of our aligned depth over the sensor's at the observations (sets with depth maps)."""
    true_sensor_ratio: dict[str, float] = field(default_factory=dict)
    """The same with the true cameras' depth of the points: how the yardsticks disagree."""
    baseline_ratio: dict[str, float] = field(default_factory=dict)
    centre_error: dict[str, float] = field(default_factory=dict)
    rotation_error_deg: dict[str, float] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)
    """Observations behind each view's depth ratio."""


def triangulate(projections: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Linear (DLT) triangulation of one point from ``(N, 3, 4)`` projections and ``(N, 2)`` pixels."""
    rows = np.concatenate([xy[:, :1] * projections[:, 2] - projections[:, 0],
                           xy[:, 1:] * projections[:, 2] - projections[:, 1]])
    point = np.linalg.svd(rows)[2][-1]
    return point[:3] / point[3] if abs(point[3]) > 1e-12 else np.full(3, np.nan)


def _true_projection(gt, name: str, width: int, height: int) -> np.ndarray:
    view = gt.views[name]
    camera = view.camera.scaled_to(width, height)
    return camera.K @ np.hstack([view.pose.R, view.pose.t[:, None]])


def sensor_at(gt, name: str, width: int, height: int, xy: np.ndarray) -> np.ndarray:
    """The sensor's depth of view ``name`` at pixels ``xy`` (N, 2) (COLMAP convention; nearest
    pixel), 0 where it has none or the set has no depth maps."""
    from photogrammetry.evaluation import gt_depth_map

    out = np.zeros(len(xy))
    if not gt.views[name].depth_path or not len(xy):
        return out
    depth = gt_depth_map(gt, name, width=width, height=height)
    cols, rows = np.floor(np.asarray(xy)).astype(int).T  # the pixel the point lies in
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    out[inside] = np.nan_to_num(depth[rows[inside], cols[inside]])
    return out


def observations(reconstruction, gt, to_gt, max_error: float) -> dict[str, np.ndarray]:
    """Per registered view: ``(N, 4)`` rows of pixel x, y, our aligned depth and the true depth of
    each observation whose track the true cameras triangulate (see the module's docstring)."""
    images = {i: im for i, im in reconstruction.images.items() if im.has_pose and im.name in gt.views}
    projections = {i: _true_projection(gt, im.name, reconstruction.cameras[im.camera_id].width,
                                       reconstruction.cameras[im.camera_id].height) for i, im in images.items()}
    rows: dict[str, list] = {im.name: [] for im in images.values()}
    for point in reconstruction.points3D.values():
        obs = [(e.image_id, images[e.image_id].points2D[e.point2D_idx].xy) for e in point.track.elements
               if e.image_id in images]
        if len(obs) < 2:
            continue
        P = np.stack([projections[i] for i, _ in obs])
        xy = np.stack([p for _, p in obs])
        h = P @ np.append(triangulate(P, xy), 1.0)
        if not np.all(np.isfinite(h)) or np.any(h[:, 2] <= 0):
            continue
        if np.max(np.linalg.norm(h[:, :2] / h[:, 2:] - xy, axis=1)) > max_error:
            continue
        for (i, q), true_depth in zip(obs, h[:, 2]):
            ours = to_gt.scale * float((images[i].cam_from_world() * point.xyz)[2])
            rows[images[i].name].append((q[0], q[1], ours, float(true_depth)))
    return {n: np.array(v) for n, v in rows.items() if v}


def baseline_ratios(poses: dict, gt, to_gt, names: list[str], neighbours: int) -> dict[str, float]:
    """Per registered view: median aligned / true centre distance to registered views nearby in the order."""
    out = {}
    for k, name in enumerate(names):
        if name not in poses:
            continue
        values = []
        for other in names[max(0, k - neighbours):k + neighbours + 1]:
            if other == name or other not in poses:
                continue
            true = np.linalg.norm(gt.views[name].pose.center - gt.views[other].pose.center)
            if true > 1e-9:
                ours = to_gt.scale * np.linalg.norm(poses[name].center - poses[other].center)
                values.append(ours / true)
        if values:
            out[name] = float(np.median(values))
    return out


def measure(model: Path, gt, label: str, max_error: float = 2.0, neighbours: int = 3) -> Drift:
    """The :class:`Drift` of the COLMAP model folder ``model`` against ``gt``."""
    import pycolmap

    from photogrammetry.evaluation.cameras import rotation_angle_deg
    from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses

    names = gt.names
    drift = Drift(label, names)
    if not model.is_dir():
        return drift
    reconstruction = pycolmap.Reconstruction(str(model))
    poses = {n: p for n, p in estimated_poses(reconstruction).items() if n in gt.views}
    metrics = evaluate_poses(poses, gt)
    if metrics.alignment is None:
        return drift
    to_gt = metrics.alignment
    size = {im.name: (reconstruction.cameras[im.camera_id].width, reconstruction.cameras[im.camera_id].height)
            for im in reconstruction.images.values()}
    for name, obs in observations(reconstruction, gt, to_gt, max_error).items():
        drift.depth_ratio[name], drift.points[name] = float(np.median(obs[:, 2] / obs[:, 3])), len(obs)
        sensor = sensor_at(gt, name, *size[name], obs[:, :2])
        if np.any(sensor > 0):
            drift.sensor_ratio[name] = float(np.median(obs[sensor > 0, 2] / sensor[sensor > 0]))
            drift.true_sensor_ratio[name] = float(np.median(obs[sensor > 0, 3] / sensor[sensor > 0]))
    drift.baseline_ratio = baseline_ratios(poses, gt, to_gt, names, neighbours)
    for n, pose in poses.items():
        drift.centre_error[n] = float(np.linalg.norm(to_gt.apply(pose.center) - gt.views[n].pose.center))
        aligned = pose.R @ to_gt.R.T
        drift.rotation_error_deg[n] = float(rotation_angle_deg(aligned @ gt.views[n].pose.R.T))
    return drift


def spread(ratios: dict[str, float]) -> tuple[float | None, float | None, float | None]:
    """Median, fraction of views within 1 % of it, largest departure from it."""
    values = np.array(list(ratios.values()))
    if not len(values):
        return None, None, None
    departure = np.abs(values / np.median(values) - 1)
    return float(np.median(values)), float(np.mean(departure <= 0.01)), float(departure.max())


def summary(drift: Drift) -> list[str]:
    """One table row: registered, then median / within 1 % / largest departure of both ratios."""
    cells = [drift.label, f"{len(drift.centre_error)}/{len(drift.names)}"]
    for ratios in (drift.depth_ratio, drift.baseline_ratio, drift.sensor_ratio, drift.true_sensor_ratio):
        median, within, largest = spread(ratios)
        cells += [fmt(median, ".4f"), fmt(within if within is None else 100 * within, ".0f"),
                  fmt(largest if largest is None else 100 * largest, ".2f")]
    return cells


def _relative(ratios: dict[str, float], name: str, spec: str) -> str:
    """``ratios[name]`` over the median of ``ratios``."""
    return fmt(ratios[name] / spread(ratios)[0] if name in ratios else None, spec)


def print_drifts(drifts: list[Drift]) -> None:
    """The per-view table (each ratio over its run's median), then one summary line per run."""
    names = drifts[0].names
    header = ["frame"]
    for d in drifts:
        header += [f"{d.label} depth", f"{d.label} base", f"{d.label} sensor", f"{d.label} true/sensor", f"{d.label} pts", f"{d.label} cm",
                   f"{d.label} deg"]
    rows = []
    for k, name in enumerate(names):
        cells = [str(k)]
        for d in drifts:
            cells += [_relative(d.depth_ratio, name, ".4f"), _relative(d.baseline_ratio, name, ".3f"),
                      _relative(d.sensor_ratio, name, ".4f"), _relative(d.true_sensor_ratio, name, ".4f"),
                      str(d.points.get(name, "-")),
                      fmt(100 * d.centre_error[name] if name in d.centre_error else None, ".1f"),
                      fmt(d.rotation_error_deg.get(name), ".2f")]
        rows.append(cells)
    print_markdown(header, rows)
    print()
    print_markdown(["run", "registered", "depth ratio median", "within 1 % (% views)", "largest departure %",
                    "baseline ratio median", "within 1 %", "largest %", "sensor ratio median", "within 1 %",
                    "largest %", "true/sensor median", "within 1 %", "largest %"], [summary(d) for d in drifts])


def main() -> None:
    import photogrammetry

    sets = available_sets()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(sets), default=["office"])
    parser.add_argument("--frames", type=int, default=20, help="the first N photos of each set (0: all)")
    parser.add_argument("--preset", nargs="+", default=["fast", "cpu", "default"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="stage.option=value")
    parser.add_argument("--model", type=Path, default=None, help="score this COLMAP model instead of running")
    parser.add_argument("--max-error", type=float, default=2.0, help="px, true-camera triangulation")
    parser.add_argument("--neighbours", type=int, default=3, help="frames either side for the baseline ratio")
    parser.add_argument("--work", type=Path, default=None, help="workspaces (reused; default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the per-view ratios here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-drift-"))
    drifts = []
    for name in args.sets:
        bset = sets[name]
        if args.frames and args.frames < len(list(bset.images.iterdir())):
            bset = first_frames(bset, args.frames, work / name / "cut")
        gt = set_ground_truth(bset)
        runs = [("model", args.model)] if args.model else [
            (p, photogrammetry.run(bset.images, work / bset.name / p, preset=p, until="sfm",
                                   overrides=args.overrides, progress=False).folder("sfm") / "model")
            for p in args.preset]
        drifts += [measure(model, gt, f"{bset.name} {label}", args.max_error, args.neighbours)
                   for label, model in runs]
        print_drifts(drifts[-len(runs):])
        print()
    if args.json:
        args.json.write_text(json.dumps([asdict(d) for d in drifts], indent=2))


if __name__ == "__main__":
    main()
