"""Which focal length do a real set's photos, sensor depth and true poses agree on?

    python benchmarks/photo_focal.py [--set office] [--gaps 1 2] [--step 2] [--window 20]

#24's targets score our focal length against a set's own K. This checks that yardstick with no feature,
track or adjustment of ours: for frame pairs ``gap`` apart, frame ``a``'s sensor depth is lifted through K
scaled by ``s``, carried by the true poses into frame ``b`` (through the same scaled K) and photo ``b`` is
resampled there; the median 7x7 ZNCC against photo ``a`` over its textured pixels is scored for each ``s``.
A camera turning by ``theta`` moves the image by about ``f theta``, so a wrong focal length misplaces the
warp by ``(s - 1) f theta`` pixels: the scale where the ZNCC peaks is the focal length (times the true
rotations) that the photos agree with, per pair and per window of frames. The pose's translation and the
depth change little with ``s``. It takes about 10 s on the office set's 60 frames.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.mvs_real import sensor_posed  # noqa: E402
from benchmarks.photo_warp import grey, textured, warped_zncc  # noqa: E402
from benchmarks.sets import available_sets, set_ground_truth  # noqa: E402

MIN_PIXELS = 200
"""Textured pixels a pair needs in common to be scored."""


def focal_curve(grey_a: np.ndarray, grey_b: np.ndarray, depth_a: np.ndarray, K: np.ndarray,
                pose_a: tuple[np.ndarray, np.ndarray], pose_b: tuple[np.ndarray, np.ndarray],
                scales: np.ndarray) -> np.ndarray:
    """(S,) median ZNCC of photo ``a`` (H, W) and photo ``b`` resampled through ``a``'s z-depth (H, W; 0 or NaN:
    none), with both cameras' focal lengths in ``K`` (3, 3) times each of ``scales``; poses ``(R, t)`` world to
    camera; NaN where fewer than :data:`MIN_PIXELS` textured pixels land in ``b``."""
    valid = np.isfinite(depth_a) & (depth_a > 0)
    rows, cols = np.nonzero(valid)
    z = depth_a[rows, cols].astype(np.float64)
    where = textured(grey_a) & valid
    (Ra, ta), (Rb, tb) = pose_a, pose_b
    out = []
    for s in scales:
        Ks = np.array(K, np.float64)
        Ks[0, 0] *= s
        Ks[1, 1] *= s
        cam = (np.linalg.inv(Ks) @ np.stack([cols + 0.5, rows + 0.5, np.ones(len(rows))])) * z
        uvw = Ks @ (Rb @ (Ra.T @ (cam - ta[:, None])) + tb[:, None])
        out.append(warped_zncc(grey_a, grey_b, rows * depth_a.shape[1] + cols, (uvw[:2] / uvw[2]).T, where,
                               MIN_PIXELS))
    return np.array(out)


def pair_curve(gt, a: str, b: str, scales: np.ndarray) -> np.ndarray:
    """:func:`focal_curve` of two views of a ground truth with sensor depth."""
    sensor, other = sensor_posed(gt, a), gt.views[b]
    return focal_curve(grey(gt.views[a].image_path), grey(other.image_path), sensor.depth, sensor.camera.K,
                       (sensor.pose.R, sensor.pose.t), (other.pose.R, other.pose.t), scales)


def peak(scales: np.ndarray, curves: list[np.ndarray]) -> float:
    """The scale where the mean of ``curves`` peaks (NaN without a scored pair)."""
    scored = [c for c in curves if not np.all(np.isnan(c))]
    return float(scales[int(np.nanargmax(np.nanmean(scored, axis=0)))]) if scored else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="office", help="a real set with sensor depth and true cameras")
    parser.add_argument("--gaps", type=int, nargs="+", default=[1, 2], help="frames between the two of a pair")
    parser.add_argument("--step", type=int, default=2, help="frames between the first frames of two pairs")
    parser.add_argument("--window", type=int, default=20, help="frames per window of the table")
    parser.add_argument("--scales", type=float, nargs=3, default=[0.95, 1.05, 0.005], metavar=("MIN", "MAX", "STEP"))
    args = parser.parse_args()
    sets = available_sets()
    if args.set not in sets:
        sys.exit(f"set {args.set!r} is not on this machine (have: {', '.join(sets)}); see ../shared/data")
    gt = set_ground_truth(sets[args.set])
    names = sorted(gt.views)
    lo, hi, step = args.scales
    scales = np.round(np.arange(lo, hi + step / 2, step), 4)
    focal = float(np.mean(np.diag(gt.views[names[0]].camera.K)[:2]))
    print(f"{args.set}: {len(names)} frames, K's focal length {focal:.1f} px; the scale on it the photos agree with")
    print("| frames | gap | pairs | best scale per pair: median (quartiles) | peak of the mean ZNCC | ZNCC at 1 -> at peak |")
    print("|---|---|---|---|---|---|")
    for gap in args.gaps:
        starts = list(range(0, len(names) - gap, args.step))
        curves = {i: pair_curve(gt, names[i], names[i + gap], scales) for i in starts}
        windows = [(w, min(w + args.window, len(names))) for w in range(0, len(names), args.window)] + [(0, len(names))]
        for first, last in windows:
            chosen = [c for i, c in curves.items() if first <= i < last and not np.all(np.isnan(c))]
            if not chosen:
                continue
            best = [scales[int(np.nanargmax(c))] for c in chosen]
            top = peak(scales, chosen)
            mean = np.nanmean(chosen, axis=0)
            at_one = mean[int(np.argmin(np.abs(scales - 1.0)))]
            print(f"| {first}-{last - 1} | {gap} | {len(chosen)} | {np.median(best):.3f} ({np.percentile(best, 25):.3f}-"
                  f"{np.percentile(best, 75):.3f}) | {top:.3f} ({top * focal:.1f} px) | {at_one:.3f} -> "
                  f"{np.nanmax(mean):.3f} |")


if __name__ == "__main__":
    main()
