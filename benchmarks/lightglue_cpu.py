"""LightGlue on the CPU: seconds per pair by keypoint budget, adaptive depth / width and threads.

    python benchmarks/lightglue_cpu.py                       # fountain's first 4 photos, 2048 and 1024 keypoints
    python benchmarks/lightglue_cpu.py --set temple --photos 3 --keypoints 2048 --threads 1 2

Extracts the default extractor's features (our ``features`` stage, default preset otherwise) at
each keypoint budget, then matches every pair of the photos with LightGlue under each setting:
``full`` (every layer, every point: ``depth_confidence=width_confidence=-1``), ``adaptive`` (the
LightGlue paper's early stopping and point pruning, 0.95 / 0.99) and ``aggressive`` (0.90 / 0.95),
each with each thread count, taking turns pair by pair (a change in the machine's load falls on
all alike). A row gives the wall and CPU seconds per pair (the medians over repeats of the means
over the pairs; CPU: the process's, all threads, which a busy machine's load leaves alone), matches
per pair, inliers per pair (OpenCV's fundamental-matrix RANSAC at 1 px, seeded) and whether a
second run gave the same matches. The machine may be shared: read the seconds as ratios within one
run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.sets import available_sets, first_frames  # noqa: E402
from benchmarks.table import print_markdown  # noqa: E402

SETTINGS = {"full": (-1.0, -1.0), "adaptive": (0.95, 0.99), "aggressive": (0.90, 0.95)}
"""Setting name -> (depth_confidence, width_confidence)."""


@dataclass
class Row:
    """One setting at one keypoint budget."""

    keypoints: int
    setting: str
    threads: int
    seconds_per_pair: float
    cpu_seconds_per_pair: float
    """The process's CPU time (all threads): on a busy machine, the measure that the load leaves alone."""
    matches_per_pair: float
    inliers_per_pair: float
    deterministic: bool


def extract(photos: Path, work: Path, keypoints: int, overrides: list[str]) -> Path:
    """``features.h5`` of the photos at ``keypoints`` (our pipeline up to the features stage)."""
    import photogrammetry

    result = photogrammetry.run(photos, work / f"kp{keypoints}", until="features", device="cpu", progress=False,
                                overrides=[f"features.max_keypoints={keypoints}", *overrides])
    return result.folder("features") / "features.h5"


def inliers(k0: np.ndarray, k1: np.ndarray, matches: np.ndarray) -> int:
    """Matches consistent with one fundamental matrix (RANSAC, 1 px, seeded)."""
    import cv2

    if len(matches) < 8:
        return 0
    cv2.setRNGSeed(0)
    _, mask = cv2.findFundamentalMat(k0[matches[:, 0]], k1[matches[:, 1]], cv2.USAC_MAGSAC, 1.0, 0.999, 10000)
    return 0 if mask is None else int(mask.sum())


def measure(features: Path, extractor: str, configs: list[tuple[str, int]], repeats: int) -> list[tuple]:
    """Per ``(setting, threads)``: wall and CPU seconds per pair (medians over repeats), matches and inliers per pair,
    and whether a second run gave the same matches. The configurations take turns pair by pair, so
    that a change in the machine's load falls on all of them alike."""
    import torch

    from photogrammetry.io.features import FeatureFile
    from photogrammetry.matching import MatcherOptions, load_matcher

    with FeatureFile(features) as ff:
        feats = {name: ff.read(name) for name in ff.names()}
    pairs = list(itertools.combinations(sorted(feats), 2))
    matchers = {}
    for setting in {s for s, _ in configs}:
        depth, width = SETTINGS[setting]
        matcher = load_matcher("lightglue", extractor, MatcherOptions(depth_confidence=depth, width_confidence=width))
        matchers[setting] = (matcher, {name: matcher.prepare(f) for name, f in feats.items()})
    seconds = {c: [0.0] * max(2, repeats) for c in configs}
    cpu = {c: [0.0] * max(2, repeats) for c in configs}
    found: dict[tuple, list] = {c: [] for c in configs}
    for repeat in range(max(2, repeats)):
        for a, b in pairs:
            for config in configs:
                matcher, prepared = matchers[config[0]]
                torch.set_num_threads(config[1])
                t0, c0 = time.perf_counter(), time.process_time()
                found[config].append(matcher.match(prepared[a], prepared[b]))
                seconds[config][repeat] += (time.perf_counter() - t0) / len(pairs)
                cpu[config][repeat] += (time.process_time() - c0) / len(pairs)
    out = []
    for config in configs:
        first, second = found[config][:len(pairs)], found[config][len(pairs):2 * len(pairs)]
        same = all(np.array_equal(x.indices, y.indices) for x, y in zip(first, second))
        good = [inliers(feats[a].keypoints, feats[b].keypoints, m.indices) for (a, b), m in zip(pairs, first)]
        out.append((statistics.median(seconds[config]), statistics.median(cpu[config]), float(np.mean([len(m.indices) for m in first])),
                    float(np.mean(good)), same))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="fountain")
    parser.add_argument("--photos", type=int, default=4, help="first N photos of the set; every pair is matched")
    parser.add_argument("--keypoints", type=int, nargs="+", default=[2048, 1024])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set-option", dest="overrides", action="append", default=[], help="stage.option=value")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from photogrammetry.stages.features import FeaturesConfig

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-lightglue-"))
    bset = first_frames(available_sets()[args.set], args.photos, work / "cut")
    extractor = next((o.split("=", 1)[1] for o in args.overrides if o.startswith("features.extractor=")),
                     FeaturesConfig().extractor)
    rows = []
    for keypoints in args.keypoints:
        features = extract(bset.images, work, keypoints, args.overrides)
        configs = list(itertools.product(args.settings, args.threads))
        for (setting, threads), (seconds, cpu, matches, good, same) in zip(
                configs, measure(features, extractor, configs, args.repeats)):
            rows.append(Row(keypoints, setting, threads, round(seconds, 3), round(cpu, 3), round(matches, 1),
                            round(good, 1), same))
            print(rows[-1], flush=True)
    print_markdown(["keypoints", "setting (depth/width)", "threads", "s/pair", "CPU s/pair", "matches/pair", "inliers/pair",
                    "same twice"],
                   [[r.keypoints, f"{r.setting} {SETTINGS[r.setting][0]:g}/{SETTINGS[r.setting][1]:g}", r.threads,
                     f"{r.seconds_per_pair:.3f}", f"{r.cpu_seconds_per_pair:.3f}", f"{r.matches_per_pair:.1f}", f"{r.inliers_per_pair:.1f}",
                     "yes" if r.deterministic else "no"] for r in rows])
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
