"""The whole pipeline on the office walk, seen from frames it never got: does the mesh look like the room?

    python benchmarks/room.py --preset fast --frames 20 --out /tmp/room
    python benchmarks/room.py --preset default --frames 24
    python benchmarks/room.py --preset auto --device cpu   # what a user without a GPU gets (cpu, or xfeat)

Takes ``--frames`` photos spread evenly along the office video (``../shared/data``), keeping three
frames out of the input (at a quarter, half and three quarters of the walk; ``--held-out``), runs
``photogrammetry run`` on them with ``--preset`` (every stage, to the textured mesh), aligns our cameras
to the true ones (the Sim3 of ``photogrammetry eval``: :func:`benchmarks.mvs_real.align`), moves the
texture stage's mesh through it and renders it from the held-out frames' true cameras
(:mod:`photogrammetry.evaluation.texture_render`). Per held-out frame it writes
``<out>/<frame>.png``: the photo | the render | the render's depth error against the sensor depth
(``|render / sensor - 1|``, 0 blue to 10 % and more red; grey: rendered where the sensor has no
depth), and prints the fraction of pixels the mesh covers, the PSNR over them, and the render's
depth against the sensor (:mod:`photogrammetry.evaluation.sensor_depth`: median relative error,
fraction within 5 %, sensor pixels given a depth within 5 %). ``<out>/room.json`` holds the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.mvs_real import align, sensor_posed  # noqa: E402
from benchmarks.sets import HELD_OUT_AT, available_sets, photo_files, pick_frames, split_frames  # noqa: E402
from benchmarks.table import print_markdown  # noqa: E402
from photogrammetry.evaluation import GroundTruth  # noqa: E402
from photogrammetry.evaluation.ground_truth import GTView  # noqa: E402
from photogrammetry.evaluation.raycast import MeshRaycaster  # noqa: E402
from photogrammetry.evaluation.sensor_depth import PosedDepth, compare_with_sensor  # noqa: E402
from photogrammetry.evaluation.texture_metrics import psnr, render_in_view  # noqa: E402
from photogrammetry.evaluation.texture_render import TexturedMesh  # noqa: E402

ERROR_SCALE = 0.10
"""Relative depth error shown red in the pictures (and above)."""


@dataclass(frozen=True)
class HeldOutView:
    """The mesh seen from one held-out frame."""

    name: str
    """The frame's photo."""
    covered: float
    """Fraction of the photo's pixels the mesh covers."""
    psnr: float
    """PSNR (dB) of the render against the photo over the covered pixels."""
    depth_median_error: float
    """Median ``|render / sensor - 1|`` over covered pixels with a sensor depth."""
    depth_within_5: float
    """Fraction of those within 5 %."""
    sensor_given_5: float
    """Fraction of the sensor's pixels the render gives a depth within 5 %."""


def render_held_out(mesh: TexturedMesh, view: GTView, sensor: PosedDepth,
                    raycaster: MeshRaycaster) -> tuple[HeldOutView, np.ndarray]:
    """``mesh`` (in the true cameras' frame) rendered from ``view``, scored against its photo and its
    ``sensor`` depth; the numbers and the side-by-side picture (H, 3W, 3) RGB in [0, 1]."""
    photo, rendered, hit, _ = render_in_view(mesh, view, max_size=None, raycaster=raycaster)
    depth = raycaster.depth(view.camera, view.pose)
    comparison = compare_with_sensor(PosedDepth(depth=depth, camera=view.camera, pose=view.pose), sensor)
    error = np.abs(comparison.ratios - 1)
    nan = float("nan")
    scores = HeldOutView(
        name=view.name, covered=float(hit.mean()), psnr=psnr(rendered, photo, hit) if hit.any() else nan,
        depth_median_error=float(np.median(error)) if len(error) else nan,
        depth_within_5=float(np.mean(error <= 0.05)) if len(error) else nan,
        sensor_given_5=comparison.covered / comparison.num_sensor if comparison.num_sensor else nan)
    return scores, np.concatenate([photo, rendered, error_picture(depth, sensor.depth)], axis=1)


def error_picture(depth: np.ndarray, sensor: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1]: ``|depth / sensor - 1|`` from blue (0) to red (:data:`ERROR_SCALE` and
    more) where both have a depth, grey where only ``depth`` has one, black where it has none."""
    import cv2

    both, only = (depth > 0) & (sensor > 0), (depth > 0) & ~(sensor > 0)
    error = np.abs(depth / np.where(both, sensor, 1) - 1)
    level = np.uint8(np.clip(error / ERROR_SCALE, 0, 1) * 255)
    colours = cv2.applyColorMap(level, cv2.COLORMAP_JET)[..., ::-1].astype(np.float32) / 255
    out = np.zeros(depth.shape + (3,), np.float32)
    out[both], out[only] = colours[both], 0.5
    return out


def write_picture(path: Path, picture: np.ndarray, labels: list[str]) -> None:
    """``picture`` as PNG with one label at the top left of each of its side-by-side panels."""
    import cv2

    image = np.ascontiguousarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)[..., ::-1])
    width = image.shape[1] // len(labels)
    for i, label in enumerate(labels):
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(image, (i * width, 0), (i * width + w + 10, h + 12), (0, 0, 0), cv2.FILLED)
        cv2.putText(image, label, (i * width + 5, h + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)


def reconstruct(images: Path, work: Path, preset: str, device: str) -> tuple[Path, Path, float, str]:
    """``photogrammetry run`` on ``images``: (its sparse model, the texture stage's OBJ, seconds, the preset
    used: ``auto``'s choice, escalation included)."""
    import photogrammetry

    workspace = work / f"workspace-{preset}"
    start = time.perf_counter()
    photogrammetry.run(images, workspace, preset=preset, device=device, progress=False)
    seconds = time.perf_counter() - start
    status = photogrammetry.status(workspace)
    outputs = {k: Path(v) for s in status.stages if s.state == "done" for k, v in s.outputs.items()}
    used = status.preset + (f" ({status.preset_reason})" if status.preset_reason else "")
    return outputs["sparse_model"], outputs["textured_obj"], seconds, used


def score_room(gt: GroundTruth, held: list[str], model: Path, obj: Path, out: Path) -> tuple[list[HeldOutView], str]:
    """Align the model's cameras to the true ones, render the mesh from the ``held`` frames into ``out``."""
    from photogrammetry.evaluation.pose_metrics import estimated_poses
    from photogrammetry.evaluation.texture_render import load_textured_mesh

    poses = estimated_poses(model)
    to_gt, centres, how = align(poses, gt)
    mesh = load_textured_mesh(obj).transformed(to_gt)
    raycaster = mesh.raycaster()
    views = []
    for name in held:
        scores, picture = render_held_out(mesh, gt.views[name], sensor_posed(gt, name), raycaster)
        write_picture(out / f"{Path(name).stem}.png", picture,
                      ["photo (held out)", "render", f"depth error 0-{ERROR_SCALE:.0%}"])
        views.append(scores)
    note = (f"{len(poses)} cameras registered, aligned {how}, median centre error "
            f"{100 * np.median(list(centres.values())):.1f} cm, scale {to_gt.scale:.4f}")
    return views, note


def _f(value: float, spec: str = ".3f") -> str:
    return "-" if np.isnan(value) else format(value, spec)


def print_results(results: dict) -> None:
    """The held-out table and how the run went."""
    print(f"office walk, {results['preset']} preset (used: {results.get('used', '-')}), {len(results['inputs'])} "
          f"input frames {results['inputs']}, held out {results['held_out']}; run {results['seconds']:.0f} s; "
          f"{results['cameras']}")
    rows = [[str(results["held_out"][i]), v["name"], str(results["nearest_input_gap"][i]), _f(v["covered"]),
             _f(v["psnr"], ".2f"), _f(v["depth_median_error"], ".4f"), _f(v["depth_within_5"]), _f(v["sensor_given_5"])]
            for i, v in enumerate(results["views"])]
    print_markdown(["frame", "view", "frames to nearest input", "covered", "PSNR covered (dB)", "depth med err",
                    "depth <=5%", "sensor px <=5%"], rows)
    print(f"pictures: {', '.join(results['pictures'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", help="pipeline preset (pipelines/)")
    parser.add_argument("--frames", type=int, default=20, help="input photos, spread along the walk")
    parser.add_argument("--held-out", default=",".join(f"{f:g}" for f in HELD_OUT_AT),
                        help="comma-separated positions along the walk (0-1) of the frames kept out")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "photogrammetry-room",
                        help="folder for the pictures and room.json")
    parser.add_argument("--work", type=Path, help="workspace folder (default: OUT/work; kept, so a rerun resumes)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    from photogrammetry.evaluation import load_ground_truth

    bset = available_sets().get("office")
    if bset is None:
        sys.exit("the office set is not in ../shared/data (deepvideomvs_hololens_office)")
    photos = photo_files(bset)
    inputs, held = split_frames(len(photos), args.frames, tuple(float(x) for x in args.held_out.split(",")))
    out = args.out / args.preset
    out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    cut = pick_frames(bset, inputs, work / f"photos-{args.frames}", f"office-{args.frames}-spread")
    model, obj, seconds, used = reconstruct(cut.images, work / f"office-{args.frames}", args.preset, args.device)
    held_names = [photos[i].name for i in held]
    views, note = score_room(load_ground_truth(bset.gt), held_names, model, obj, out)
    results = {"preset": args.preset, "used": used, "inputs": inputs, "held_out": held, "seconds": seconds,
               "cameras": note, "nearest_input_gap": [min(abs(h - i) for i in inputs) for h in held],
               "views": [asdict(v) for v in views], "pictures": [str(out / f"{Path(n).stem}.png") for n in held_names]}
    (out / "room.json").write_text(json.dumps(results, indent=2))
    print_results(results)


if __name__ == "__main__":
    main()
