"""The baseline every benchmark is compared with: COLMAP's own sparse pipeline through pycolmap.

SIFT features, exhaustive matching, incremental mapping, one shared camera; everything at
pycolmap's defaults, on the CPU. Run as a script so the harness can measure its time and
memory in a child process::

    python benchmarks/colmap_baseline.py IMAGES OUT
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def run_baseline(images: Path, out: Path) -> dict:
    """Reconstruct ``images`` into ``out/sparse/<i>``; the largest model is ``out/sparse/best``.

    Returns:
        Seconds per step and the number of images registered per model.
    """
    import pycolmap

    if out.exists():
        shutil.rmtree(out)
    (out / "sparse").mkdir(parents=True)
    database = out / "database.db"
    seconds = {}
    t0 = time.perf_counter()
    pycolmap.extract_features(database, images, camera_mode=pycolmap.CameraMode.SINGLE,
                              device=pycolmap.Device.cpu)
    seconds["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pycolmap.match_exhaustive(database, device=pycolmap.Device.cpu)
    seconds["matching"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    models = pycolmap.incremental_mapping(database, images, out / "sparse")
    seconds["mapping"] = time.perf_counter() - t0
    sizes = {str(i): m.num_reg_images() for i, m in models.items()}
    if models:
        best = max(models.values(), key=lambda m: m.num_reg_images())
        (out / "sparse" / "best").mkdir()
        best.write(out / "sparse" / "best")
    return {"seconds": seconds, "models": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    summary = run_baseline(args.images, args.out)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
