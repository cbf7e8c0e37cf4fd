"""Focal lengths without EXIF: our sfm stage against COLMAP's pipeline on photos stripped of EXIF.

    python benchmarks/focal.py                                  # every set with cameras, preset fast
    python benchmarks/focal.py --sets temple office --preset default --json focal.json
    python benchmarks/focal.py --sets office --frames 20         # the office video's first 20 frames

Every set with ground-truth cameras, its photos copied without EXIF (the sample scenes carry
EXIF focal lengths, the real sets none), reconstructed up to ``sfm`` three ways in one run (the
turntable sample scene with the ``turntable`` preset, whose masks it needs):

- ``ours``: no prior, the focal length estimated;
- ``ours, true f``: the true focal length given (``sfm.focal_px``, still refined), the reference
  the estimate's pose accuracy is held to (AUC@5 within 0.01);
- ``colmap``: COLMAP's SIFT pipeline at its defaults (:mod:`benchmarks.colmap_baseline`).

Columns: the focal length found (median over registered images of each image's camera), the true
one (at the size SfM saw), their relative error, the standard deviation we report
(``sfm.json``), registered images, pairwise AUC@5 and the median rotation error after a Sim3
alignment (:mod:`photogrammetry.evaluation`), and wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.sets import BenchmarkSet, available_sets, first_frames, set_ground_truth  # noqa: E402
from benchmarks.table import fmt, print_markdown  # noqa: E402


@dataclass
class Row:
    """One method on one set."""

    set: str
    method: str
    focal: float | None
    true_focal: float
    sd: float | None
    registered: str
    auc5: float | None
    rotation_median_deg: float | None
    wall_s: float
    error: str | None = None

    @property
    def focal_error(self) -> float | None:
        return None if self.focal is None else self.focal / self.true_focal - 1.0


def strip_exif(src: Path, dst: Path) -> None:
    """Copy a photo without its EXIF block (JPEG APP1 ``Exif``, PNG ``eXIf``); pixels untouched."""
    data = src.read_bytes()
    if data[:2] == b"\xff\xd8":
        out, i = bytearray(data[:2]), 2
        while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (0xDA, 0xD9):
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if not (data[i + 1] == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00"):
                out += data[i:i + 2 + length]
            i += 2 + length
        data = bytes(out + data[i:])
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        out, i = bytearray(data[:8]), 8
        while i + 8 <= len(data):
            length = int.from_bytes(data[i:i + 4], "big")
            if data[i + 4:i + 8] != b"eXIf":
                out += data[i:i + 12 + length]
            i += 12 + length
        data = bytes(out)
    dst.write_bytes(data)


def stripped_copy(bset: BenchmarkSet, folder: Path) -> Path:
    """The set's photos without EXIF in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for photo in sorted(p for p in bset.images.iterdir() if p.is_file()):
        strip_exif(photo, folder / photo.name)
    return folder


def true_focal(gt, photos: Path | None = None) -> float:
    """The median true focal length over the views (mean of fx and fy), in pixels of the photos in
    ``photos`` (of the ground truth's own images when ``None``)."""
    from PIL import Image

    focals = []
    for view in gt.views.values():
        camera = view.camera
        if photos is not None and (photos / view.name).is_file():
            with Image.open(photos / view.name) as im:
                camera = camera.scaled_to(*im.size)
        focals.append((camera.K[0, 0] + camera.K[1, 1]) / 2)
    return float(np.median(focals))


def model_focal(model_dir: Path, gt) -> tuple[float | None, float]:
    """Median focal length of the registered images' cameras, and the true one at the size SfM saw."""
    import pycolmap

    model = pycolmap.Reconstruction(model_dir)
    found, truth = [], []
    for image in model.images.values():
        camera = model.camera(image.camera_id)
        view = gt.views.get(image.name)
        if view is not None and image.has_pose:
            found.append(camera.mean_focal_length())
            scaled = view.camera.scaled_to(camera.width, camera.height).K
            truth.append((scaled[0, 0] + scaled[1, 1]) / 2)
    if not found:
        return None, true_focal(gt)
    return float(np.median(found)), float(np.median(truth))


def score(bset: BenchmarkSet, method: str, model_dir: Path | None, wall: float, sd: float | None = None,
          error: str | None = None) -> Row:
    """Focal and pose metrics of ``model_dir`` against the set's ground truth."""
    from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses

    gt = set_ground_truth(bset)
    if model_dir is None or not model_dir.is_dir():
        return Row(bset.name, method, None, true_focal(gt), None, f"0/{len(gt.views)}", None, None, wall, error)
    focal, truth = model_focal(model_dir, gt)
    m = evaluate_poses(estimated_poses(model_dir), gt)
    return Row(bset.name, method, focal, truth, sd, f"{m.num_registered}/{m.num_gt_images}", m.auc[5.0],
               m.rotation_error_median_deg, round(wall, 1), error)


def run_ours(bset: BenchmarkSet, photos: Path, work: Path, preset: str, focal_px: float | None) -> Row:
    """Our pipeline up to sfm, with or without the true focal length."""
    import photogrammetry
    from photogrammetry.io.sfm import load_sfm

    method = f"ours ({preset})" + (", true f" if focal_px else "")
    overrides = [f"sfm.focal_px={focal_px}"] if focal_px else []
    t0 = time.perf_counter()
    try:
        result = photogrammetry.run(photos, work, preset=preset, until="sfm", overrides=overrides, progress=False)
    except photogrammetry.errors.PhotogrammetryError as err:
        return score(bset, method, None, time.perf_counter() - t0, error=str(err))
    wall = time.perf_counter() - t0
    sfm = load_sfm(result.folder("sfm"))
    sds = [c.focal_sd_px / c.focal_px for c in sfm.summary.cameras if c.focal_sd_px]
    return score(bset, method, sfm.model, wall, sd=max(sds) if sds else None)


def run_colmap(bset: BenchmarkSet, photos: Path, work: Path) -> Row:
    """COLMAP's SIFT pipeline at its defaults on the same photos."""
    from benchmarks.colmap_baseline import run_baseline

    t0 = time.perf_counter()
    run_baseline(photos, work)
    return score(bset, "colmap sift", work / "sparse" / "best", time.perf_counter() - t0)


def preset_for(bset: BenchmarkSet, preset: str) -> str:
    """``turntable`` for a turntable sample scene (its static background needs the preset's masks),
    else ``preset``."""
    scene = bset.gt / "gt" / "scene.json" if bset.gt is not None and bset.gt.is_dir() else None
    if bset.kind == "sample" and scene is not None and scene.is_file():
        if json.loads(scene.read_text(encoding="utf-8")).get("kind") == "turntable":
            return "turntable"
    return preset


def print_table(rows: list[Row]) -> None:
    """One line per set and method (Markdown)."""
    header = ["set", "method", "focal px", "true px", "error %", "sd %", "registered", "AUC@5", "rot med deg", "wall s"]
    lines = []
    for r in rows:
        error = None if r.focal_error is None else 100 * r.focal_error
        lines.append([r.set, r.method, fmt(r.focal, ".1f"), f"{r.true_focal:.1f}", fmt(error, "+.2f"),
                      fmt(None if r.sd is None else 100 * r.sd, ".2f"), r.registered, fmt(r.auc5, ".3f"),
                      fmt(r.rotation_median_deg, ".3f"), f"{r.wall_s:.1f}"])
        if r.error:
            lines.append(["", f"error: {r.error[:100]}"] + [""] * (len(header) - 2))
    print_markdown(header, lines)
    sys.stdout.flush()


def main() -> None:
    sets = {name: s for name, s in available_sets().items() if s.gt is not None}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(sets), default=sorted(sets))
    parser.add_argument("--preset", default="fast", help="our preset (default: fast, CPU-friendly)")
    parser.add_argument("--frames", type=int, default=0, help="real sets of more photos: their first N only (0: all)")
    parser.add_argument("--no-baseline", action="store_true", help="skip COLMAP's pipeline")
    parser.add_argument("--no-reference", action="store_true", help="skip our run given the true focal length")
    parser.add_argument("--work", type=Path, default=None, help="workspaces (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-focal-"))
    rows = []
    for name in args.sets:
        bset = sets[name]
        count = sum(1 for p in bset.images.iterdir() if p.is_file())
        if args.frames and bset.kind == "real" and count > args.frames:
            bset = first_frames(bset, args.frames, work / name / "cut")
        photos = stripped_copy(bset, work / name / "photos")
        preset = preset_for(bset, args.preset)
        new = [run_ours(bset, photos, work / name / "ours", preset, None)]
        if not args.no_reference:
            given = true_focal(set_ground_truth(bset), photos)
            new.append(run_ours(bset, photos, work / name / "ours-true", preset, given))
        if not args.no_baseline:
            new.append(run_colmap(bset, photos, work / name / "colmap"))
        print_table(new)
        rows += new
        shutil.rmtree(photos, ignore_errors=True)
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"focal_error": r.focal_error} for r in rows], indent=2))


if __name__ == "__main__":
    main()
