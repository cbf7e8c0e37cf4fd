"""Reconstruct a batch of turntable captures: one folder of photos per object.

Copy this script and edit the CAPTURE description to match your set-up, then run::

    python examples/turntable_batch.py SHOOTS_FOLDER WORK_FOLDER

where ``SHOOTS_FOLDER`` holds one sub-folder of photos per object (photo names sort in capture
order: ring after ring), and ``WORK_FOLDER`` receives one cached, resumable workspace per
object. The first object that reconstructs gives its camera calibration to the others (same
camera, same lens, same zoom: the calibration is then kept fixed). Run it again after an
interruption or a failure: finished stages are reused.

The same for a single object from the command line::

    photogrammetry run SHOOTS_FOLDER/mug -w WORK_FOLDER/mug --preset turntable \\
        --set scale.method=platform --set scale.radius_mm=150
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from photogrammetry.turntable import Turntable, run_batch

CAPTURE = Turntable.template(
    steps=36,  # photos per turn of the platform (10 degree steps)
    rings=1,  # camera heights, shot one after the other
    flip_after=0,  # photos before the object was flipped over for a second pass (0: no flip)
    radius_mm=0.0,  # radius of the platform's top, for a model in metres (0: none)
    marker_mm=0.0,  # or: side of ArUco markers (DICT_4X4_50) lying on the platform
    camera_distance_mm=0.0,  # or: lens-to-axis distance, measured horizontally (less accurate)
    masks="background",  # "background", "ingest" (alpha channels), "none" or a folder of masks
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shoots", type=Path, help="folder with one sub-folder of photos per object")
    parser.add_argument("work", type=Path, help="folder for the workspaces, one per object")
    parser.add_argument("--until", default=None, help="stop after this stage (e.g. sfm)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    summary = {}
    for item in run_batch(args.shoots, args.work, CAPTURE, until=args.until, device=args.device):
        if item.ok:
            summary[item.name] = {"workspace": str(item.workspace), "ran": list(item.result.ran),
                                  "calibration_from": str(item.calibration) if item.calibration else None}
        else:
            summary[item.name] = {"workspace": str(item.workspace), "error": item.error}
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "batch.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = [name for name, s in summary.items() if "error" in s]
    print(f"{len(summary) - len(failed)} of {len(summary)} objects done; details in {args.work / 'batch.json'}")
    if failed:
        print("failed:", ", ".join(failed))


if __name__ == "__main__":
    main()
