"""Benchmark of pair selection as captures grow: pairs per photo and matching time by photo count.

    python benchmarks/pairs.py                                  # 47, 100 and 200 photos of 320 px, 512 keypoints
    python benchmarks/pairs.py --photos 47 100 --sfm-upto 100 --exhaustive-upto 47 --keypoints 512
    python benchmarks/pairs.py --preset fast                    # SIFT + nearest neighbours: a loaded CPU
    python benchmarks/pairs.py --device cuda                    # the same table on a GPU

Renders one orbit (``photogrammetry.synthetic.random_scene``, the first seed from ``--seed`` that
draws an orbit) with each number of photos, ``--size`` pixels wide, and runs our pipeline (preset
``--preset``, ``pairs.method=auto``, ``features.max_keypoints`` from ``--keypoints``) up to the
matches stage, or up to sfm for at most ``--sfm-upto`` photos; with ``--exhaustive-upto``, also
``pairs.method=exhaustive`` on the sets of at most that many photos, for the registered photos
and poses that every pair buys. A row gives the photos, the pair method ``auto`` chose, the
pairs, the pairs per photo (``2 pairs / photos``: the mean; and the most of any photo), the
matches stage's seconds, seconds per pair and pairs per second (``--device``: where features and
matching run, the CPU unless asked), and after sfm the registered photos and AUC@5
against the rendered cameras. Target: pairs per photo flat and matching time linear in the photo
count above the switch. The machine may be shared: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.sets import BenchmarkSet  # noqa: E402
from benchmarks.table import fmt, print_markdown  # noqa: E402


@dataclass
class Row:
    """One photo count with one pair method."""

    photos: int
    method: str
    pairs: int
    pairs_per_photo: float
    most_pairs_per_photo: int
    matches_s: float
    s_per_pair: float
    registered: int | None = None
    auc5: float | None = None
    sfm_s: float | None = None
    error: str | None = None


def orbit_spec(seed: int, photos: int, width: int):
    """The first orbit ``random_scene`` draws from ``seed`` on, with ``photos`` views ``width`` pixels wide."""
    from photogrammetry.synthetic import SceneKind, random_scene

    while (spec := random_scene(seed, width=width, height=width * 3 // 4)).kind is not SceneKind.ORBIT:
        seed += 1
    return replace(spec, rig=replace(spec.rig, num_views=photos))


def render(seed: int, photos: int, width: int, folder: Path) -> Path:
    """The rendered scene folder (``images/``, ``gt/``), rendered once."""
    from photogrammetry.synthetic import render_scene

    if not (folder / "gt" / "scene.json").exists():
        render_scene(orbit_spec(seed, photos, width), folder)
    return folder


def run_one(scene: Path, work: Path, photos: int, method: str, sfm: bool, preset: str, overrides: list[str],
            device: str = "cpu") -> Row:
    """Our pipeline on one rendered set, up to matches (or sfm), on ``device``."""
    import photogrammetry
    from benchmarks.sfm import evaluate

    t0 = time.perf_counter()
    try:
        result = photogrammetry.run(scene / "images", work, preset=preset, until="sfm" if sfm else "matches",
                                    overrides=[*overrides, f"pairs.method={method}"], device=device, progress=False)
    except photogrammetry.errors.PhotogrammetryError as err:
        return Row(photos, method, 0, 0.0, 0, 0.0, 0.0, error=str(err))
    stages = {s.name: s for s in result.stages}
    counts = stages["pairs"].counts
    matches_s = stages["matches"].seconds
    row = Row(photos, f"{method} -> {counts['method']}" if method == "auto" else method, counts["pairs"],
              counts["pairs_per_image"], counts["most_pairs_per_image"], round(matches_s, 1),
              round(matches_s / max(1, counts["pairs"]), 4))
    if sfm:
        bset = BenchmarkSet(f"orbit-{photos}", scene / "images", scene, "sample")
        pose = evaluate(result.folder("sfm") / "model", bset, photos, method, time.perf_counter() - t0, None)
        row.registered, row.auc5 = pose.registered, (pose.auc or {}).get("5")
        row.sfm_s = round(stages["sfm"].seconds, 1)
    return row


def print_table(rows: list[Row]) -> None:
    """One Markdown line per photo count and method."""
    print_markdown(
        ["photos", "pairs method", "pairs", "pairs/photo", "most/photo", "matches s", "s/pair", "pairs/s",
         "registered", "AUC@5", "sfm s", "error"],
        [[r.photos, r.method, r.pairs, f"{r.pairs_per_photo:.1f}", r.most_pairs_per_photo, f"{r.matches_s:.1f}",
          f"{r.s_per_pair:.3f}", f"{1 / r.s_per_pair:.1f}" if r.s_per_pair > 0 else "-",
          "-" if r.registered is None else f"{r.registered}/{r.photos}", fmt(r.auc5, ".3f"),
          fmt(r.sfm_s, ".1f"), (r.error or "")[:60]] for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[47, 100, 200])
    parser.add_argument("--size", type=int, default=320, help="image width in pixels (height 3/4 of it)")
    parser.add_argument("--keypoints", type=int, default=512)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="stage.option=value")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"],
                        help="where features and matching run (cuda: the GPU table, LightGlue's pairs per second)")
    parser.add_argument("--sfm-upto", type=int, default=100, help="run sfm on sets of at most this many photos")
    parser.add_argument("--exhaustive-upto", type=int, default=0,
                        help="also match every pair on sets of at most this many photos")
    parser.add_argument("--work", type=Path, default=None, help="scenes and workspaces (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-pairs-"))
    rows = []
    for photos in args.photos:
        scene = render(args.seed, photos, args.size, work / f"orbit-{photos}")
        methods = ["auto"] + (["exhaustive"] if photos <= args.exhaustive_upto else [])
        for method in methods:
            # one workspace per photo count: features are shared, pairs and matches are keyed by the method
            overrides = [f"features.max_keypoints={args.keypoints}", *args.overrides]
            rows.append(run_one(scene, work / f"ws-{photos}", photos, method, photos <= args.sfm_upto, args.preset,
                                overrides, args.device))
            print_table(rows[-1:])
            sys.stdout.flush()
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
