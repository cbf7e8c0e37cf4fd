"""Is a video rolling-shutter? The tracks' reprojection error with the true cameras against the readout time.

For each window of a real video with true cameras (the office walk): the ``cpu`` preset's tracks are
triangulated with the true cameras (:mod:`benchmarks.camera_refine`); each frame's angular and linear velocity
comes from its neighbouring true poses; an observation at row ``y`` is taken as seen by the camera at time
``(y - H/2) / H * tau`` frame intervals (the frame's pose moved by its velocity over that time). For each
``tau`` the points are re-triangulated with these cameras and the robust reprojection error reported. Then
bundle adjustment (COLMAP's, Cauchy loss) started from the true cameras with the keypoints unrolled
(rotation only) at ``tau`` = 0 and at the best ``tau``: the focal length it fits. ``--offsets`` searches a
time offset of the poses beside ``tau`` (the photos' time stamps off the poses').

With ``--own cpu fast``: our own models of the same windows instead (each preset up to sfm), each ``tau``'s
keypoints unrolled with the models' own angular velocities and the model adjusted again (focal free): the
tracks' Cauchy cost, the focal length's error and pose AUC@5 against ``tau``.

    benchmarks/rolling_shutter.py --first-frame 0 10 20 30 40 --taus $(seq -0.04 0.01 0.12) --offsets 0
    benchmarks/rolling_shutter.py --first-frame 0 10 20 30 40 --taus -0.04 -0.02 0 0.02 0.04 0.06 0.08 --own cpu fast
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.camera_refine import load_tracks, refine_points, triangulate_tracks  # noqa: E402
from benchmarks.sets import available_sets, first_frames, set_ground_truth  # noqa: E402
from photogrammetry.sfm.rolling_shutter import (observation_cameras, row_times, sequence_velocities,  # noqa: E402
                                                unroll)


def reprojection(points: np.ndarray, obs: np.ndarray, K: np.ndarray, R: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``(O,)`` px errors, observation ``o`` seen by camera ``(R[o], C[o])`` (one camera per observation)."""
    cam = np.einsum("nij,nj->ni", R, points[obs[:, 0].astype(int)] - C)
    xy = cam[:, :2] / np.maximum(cam[:, 2:3], 1e-6) * K[[0, 1], [0, 1]] + K[:2, 2]
    return np.linalg.norm(xy - obs[:, 2:], axis=1)


def error_at(tau: float, points: np.ndarray, obs: np.ndarray, K: np.ndarray, motion: tuple, height: int,
             offset: float = 0.0) -> np.ndarray:
    """Per observation px error with the rolling-shutter cameras at ``tau`` (the poses' time ``offset`` frame
    intervals off the photos'), the points re-triangulated."""
    R, C, w, v = motion
    Ro, Co = observation_cameras(obs[:, 1].astype(int), obs[:, 3], R, C, w, v, height, tau, offset)
    per_obs = np.column_stack([obs[:, 0], np.arange(len(obs)), obs[:, 2:]])
    moved = refine_points(points, per_obs, K[[0, 1], [0, 1]], K[:2, 2], Ro, Co, iterations=4)
    return reprojection(moved, obs, K, Ro, Co)


def robust(errors: np.ndarray) -> float:
    """Mean Cauchy loss of px errors (scale 1 px): the cost a robust adjustment minimises."""
    return float(np.mean(np.log1p(errors ** 2)))


def ba_focal(points: np.ndarray, obs: np.ndarray, K: np.ndarray, R: np.ndarray, C: np.ndarray,
             size: tuple[int, int]) -> tuple[float, float, float]:
    """COLMAP's bundle adjustment (Cauchy) from these cameras and points, focal free (fx, fy), principal point
    held: the focal over K's, and the points' median reprojection error (px) before and after."""
    import pycolmap

    model = pycolmap.Reconstruction()
    model.add_camera_with_trivial_rig(pycolmap.Camera(camera_id=1, model="PINHOLE", width=size[0], height=size[1],
                                                      params=[K[0, 0], K[1, 1], K[0, 2], K[1, 2]]))
    views = obs[:, 1].astype(int)
    for v in range(len(R)):
        mine = obs[views == v]
        image = pycolmap.Image(name=f"{v}", camera_id=1, image_id=v + 1,
                               points2D=pycolmap.Point2DList([pycolmap.Point2D(xy) for xy in mine[:, 2:]]))
        model.add_image_with_trivial_frame(image, pycolmap.Rigid3d(np.hstack([R[v], -(R[v] @ C[v])[:, None]])))
    index = np.zeros(len(obs), int)
    for v in range(len(R)):
        index[views == v] = np.arange(np.sum(views == v))
    order = np.argsort(obs[:, 0], kind="stable")
    for p, rows in enumerate(np.split(order, np.flatnonzero(np.diff(obs[order, 0])) + 1)):
        track = pycolmap.Track([pycolmap.TrackElement(int(views[o]) + 1, int(index[o])) for o in rows])
        model.add_point3D(points[int(obs[rows[0], 0])], track, np.zeros(3, np.uint8))
    model.update_point_3d_errors()
    before = np.median([p.error for p in model.points3D.values()])
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.refine_principal_point = False
    options.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    pycolmap.bundle_adjustment(model, options)
    fx, fy = model.camera(1).params[:2]
    model.update_point_3d_errors()
    return float((fx + fy) / (K[0, 0] + K[1, 1])), before, np.median([p.error for p in model.points3D.values()])


def window(bset, start: int, frames: int, taus: np.ndarray, offsets: np.ndarray, work: Path, full_gt,
           angular_only: bool = False) -> dict:
    """The error curve against ``tau`` and the focal BA fits at 0 and at the best ``tau`` for one window."""
    import photogrammetry

    cut = first_frames(bset, frames, work / f"frames-{start}", start)
    run = photogrammetry.run(cut.images, work / f"ws-{start}", preset="cpu", until="matches", progress=False)
    gt = set_ground_truth(cut)
    names, all_names = gt.names, full_gt.names
    keypoints, tracks = load_tracks(run.folder("features"), run.folder("matches"), names)
    camera = gt.views[names[0]].camera
    K, height = camera.K, camera.height
    R_all = np.stack([full_gt.views[n].pose.R for n in all_names])
    C_all = np.stack([full_gt.views[n].pose.center for n in all_names])
    w_all, v_all = sequence_velocities(R_all, C_all)
    at = [all_names.index(n) for n in names]
    motion = (R_all[at], C_all[at], w_all[at], v_all[at] * (0.0 if angular_only else 1.0))
    points, obs = triangulate_tracks(tracks, keypoints, [K] * len(names), list(motion[0]), list(motion[1]), 4.0)
    curve = {float(t): error_at(t, points, obs, K, motion, height) for t in taus}
    best = min(curve, key=lambda t: robust(curve[t]))
    grid = {(float(t), float(d)): robust(error_at(t, points, obs, K, motion, height, d)) for t in taus for d in offsets}
    speeds = np.degrees(np.linalg.norm(motion[2], axis=1))
    out = {"start": start, "tracks": len(points), "observations": len(obs), "curve": curve, "best": best,
           "turn_deg": (float(np.median(speeds)), float(speeds.max())), "grid": grid}
    for label, tau in (("0", 0.0), ("best", best)):
        xy = obs[:, 2:].copy()
        for v in range(len(names)):
            mine = obs[:, 1] == v
            xy[mine] = unroll(obs[mine, 2:], K, motion[2][v], row_times(obs[mine, 3], height, tau))
        unrolled = np.column_stack([obs[:, :2], xy])
        per_obs = np.column_stack([obs[:, 0], np.arange(len(obs)), xy])
        views = obs[:, 1].astype(int)
        moved = refine_points(points, per_obs, K[[0, 1], [0, 1]], K[:2, 2], motion[0][views], motion[1][views])
        out[f"focal_{label}"] = ba_focal(moved, unrolled, K, motion[0], motion[1], (camera.width, camera.height))
        out[f"unrolled_{label}"] = reprojection(moved, unrolled, K, motion[0][views], motion[1][views])
    return out


def own_model(bset, start: int, frames: int, taus: np.ndarray, work: Path, preset: str) -> dict:
    """Our own model of a window (``preset``, up to sfm), for each ``tau`` its keypoints unrolled
    (:func:`photogrammetry.sfm.rolling_shutter.unrolled`) and COLMAP's adjustment run (Cauchy, focal free,
    principal point held, the lens free where the model has one): the tracks' Cauchy cost, the focal length's
    error and pose AUC@5."""
    import pycolmap

    import photogrammetry
    from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses
    from photogrammetry.io.sfm import load_sfm
    from photogrammetry.sfm import rolling_shutter as rs

    cut = first_frames(bset, frames, work / f"frames-{start}", start)
    run = photogrammetry.run(cut.images, work / f"ws-{start}-{preset}", preset=preset, until="sfm", progress=False)
    model = pycolmap.Reconstruction(load_sfm(run.folder("sfm")).model)
    gt = set_ground_truth(cut)
    curve = {}
    for tau in taus:
        adjusted = rs.unrolled(model, float(tau))
        options = pycolmap.BundleAdjustmentOptions()
        options.print_summary = False
        options.refine_principal_point = False
        options.refine_extra_params = bool(np.any(np.abs(model.camera(1).params[3:]) > 0))
        options.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
        pycolmap.bundle_adjustment(adjusted, options)
        focal = float(np.median([adjusted.camera(im.camera_id).mean_focal_length() for im in adjusted.images.values()]))
        auc = evaluate_poses(estimated_poses(adjusted), gt).auc[5.0]
        curve[float(tau)] = (rs.cauchy_cost(rs.observation_errors(adjusted)), focal / 495.5 - 1, auc)
    best = min(curve, key=lambda t: curve[t][0])
    out = {"start": start, "curve": curve, "best": best}
    return out


def print_windows(results: list[dict], taus: np.ndarray, frames: int) -> None:
    """The curves (a markdown table, one column per window) and one line per window: best tau, the unrolled
    cost, the focal length of the adjustment from the true cameras, the time offset's search."""
    print("| tau | " + " | ".join(f"{r['start']}-{r['start'] + frames - 1}: Cauchy / median px" for r in results)
          + " |")
    print("|---|" + "---|" * len(results))
    for t in taus:
        errors = [r["curve"][float(t)] for r in results]
        print(f"| {t:+.2f} | " + " | ".join(f"{robust(e):.4f} / {np.median(e):.3f}" for e in errors) + " |")
    for r in results:
        f0, fb = r["focal_0"], r["focal_best"]
        print(f"{r['start']}: {r['tracks']} tracks, {r['observations']} obs, turn median {r['turn_deg'][0]:.2f} "
              f"max {r['turn_deg'][1]:.2f} deg/frame; best tau {r['best']:+.2f}; unrolled (rotation only) Cauchy "
              f"{robust(r['unrolled_0']):.4f} -> {robust(r['unrolled_best']):.4f}; BA from the true cameras: focal "
              f"{f0[0] - 1:+.2%} (err {f0[1]:.3f} -> {f0[2]:.3f}) at tau 0, {fb[0] - 1:+.2%} "
              f"(err {fb[1]:.3f} -> {fb[2]:.3f}) at the best tau")
        (t, d), cost = min(r["grid"].items(), key=lambda kv: kv[1])
        print(f"   with the poses' time offset searched: best tau {t:+.2f}, offset {d:+.2f}: Cauchy {cost:.4f} "
              f"(offset 0: {r['grid'].get((r['best'], 0.0), float('nan')):.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="office")
    parser.add_argument("--first-frame", type=int, nargs="+", default=[0, 20, 40])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--taus", type=float, nargs="+", default=list(np.round(np.arange(-1.0, 1.01, 0.1), 2)))
    parser.add_argument("--offsets", type=float, nargs="+", default=[0.0],
                        help="time offsets of the poses (frame intervals) searched beside tau")
    parser.add_argument("--angular-only", action="store_true", help="the cameras turn during the readout, no move")
    parser.add_argument("--own", nargs="*", help="our own models' search instead, with these presets (cpu, fast)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rolling_shutter"))
    args = parser.parse_args()
    bset = available_sets()[args.set]
    taus = np.array(args.taus)
    for preset in args.own or []:
        for start in args.first_frame:
            r = own_model(bset, start, args.frames, taus, args.work, preset)
            print(f"own {preset} {start}-{start + args.frames - 1}: best {r['best']:+.2f}; tau: Cauchy, focal error, "
                  "AUC@5: " + ", ".join(f"{t:+.2f}: {c:.4f} {f:+.2%} {a:.3f}" for t, (c, f, a) in r["curve"].items()),
                  flush=True)
    if args.own is not None:
        return
    full_gt = set_ground_truth(bset)
    results = [window(bset, s, args.frames, taus, np.array(args.offsets), args.work, full_gt, args.angular_only)
               for s in args.first_frame]
    print_windows(results, taus, args.frames)


if __name__ == "__main__":
    main()
