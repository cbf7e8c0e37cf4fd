"""Time and peak memory of texturing by atlas size, side by side with open3d's baseline.

    python benchmarks/texture_speed.py                                  # orbit; 2048, 4096, 8192
    python benchmarks/texture_speed.py --set turntable --sizes 4096,8192 --workers 2 --methods ours

The set's mesh is built as in :mod:`benchmarks.mesh` (its fused-cloud stand-in and our mesh
stage, ``--level`` detail) from the training views (every fourth view held out). Each size
is then textured in a child process of its own, which gives its peak memory: by our texture
stage's library call (``--workers`` threads) and by open3d's ``project_images_to_albedo`` on
our atlas (its time excludes the atlas, its memory does not). Held-out PSNR is printed too,
so that a faster path shows it did not change the texture.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.measure import run_measured  # noqa: E402
from benchmarks.mesh import _scores, baseline_texture, prepare, sample_views, split  # noqa: E402
from benchmarks.sets import available_sets  # noqa: E402
from photogrammetry.evaluation import load_ground_truth  # noqa: E402
from photogrammetry.io.gltf import write_glb  # noqa: E402
from photogrammetry.io.mesh import LEVEL_NAMES, TexturedMeshData, read_mesh, write_ply  # noqa: E402
from photogrammetry.stages.mesh import MeshConfig, build_mesh  # noqa: E402
from photogrammetry.stages.texture import TextureConfig  # noqa: E402
from photogrammetry.texturing import texture_mesh  # noqa: E402
from photogrammetry.texturing.atlas import compute_atlas  # noqa: E402


def child(args: argparse.Namespace) -> None:
    """Texture the kept mesh at one size with one method; print the seconds and the PSNR as JSON."""
    gt = load_ground_truth(available_sets()[args.set].gt)
    train, holdout = split(gt)
    views = sample_views(gt, train)
    mesh = read_mesh(args.work / "mesh.ply")
    if args.child == "ours":
        start = time.perf_counter()
        textured, report = texture_mesh(mesh, views, TextureConfig(size=args.size), workers=args.workers)
        seconds, steps = time.perf_counter() - start, report.seconds
    else:
        atlas = compute_atlas(mesh, size=args.size)
        flat = TexturedMeshData(vertices=atlas.vertices, faces=atlas.faces, uv=atlas.uv,
                                texture=np.zeros((1, 1, 3), np.uint8))
        start = time.perf_counter()
        textured = baseline_texture(flat, views, args.size)
        seconds, steps = time.perf_counter() - start, {}
    path = args.work / f"{args.child}_{args.size}.glb"
    write_glb(path, textured, extras={"units": "metres"}, generator="benchmark")
    psnr = _scores(path, gt, holdout, "textured_mesh_path")["psnr"]
    print(json.dumps({"seconds": round(seconds, 2), "steps": steps, "psnr": psnr}), flush=True)


def build(args: argparse.Namespace, work: Path) -> int:
    """Build the set's mesh at ``--level`` into ``work``/mesh.ply, as the mesh benchmark does; its triangles."""
    gt = load_ground_truth(available_sets()[args.set].gt)
    if gt.scene_mesh_path is None and gt.object_mesh_path is None:
        raise SystemExit(f"{args.set}: no GT mesh to sample a cloud from; pick a sample scene")
    views, cloud, _, points = prepare(args.set, gt, split(gt)[0], work, args)
    meshes = build_mesh(MeshConfig(), cloud, views, points)
    mesh = meshes.raw if args.level == "raw" else meshes.levels[args.level]
    write_ply(work / "mesh.ply", mesh)
    return len(mesh.faces)


def main() -> None:
    """Command line: build the mesh, texture it at each size in child processes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="orbit", help="a sample scene")
    parser.add_argument("--sizes", default="2048,4096,8192", help="comma-separated atlas sizes")
    parser.add_argument("--level", default="medium", choices=LEVEL_NAMES, help="detail level to texture")
    parser.add_argument("--workers", type=int, default=2, help="threads of our texturing")
    parser.add_argument("--methods", default="ours,o3d", help="ours, o3d or both")
    parser.add_argument("--child", choices=("ours", "o3d"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        triangles = build(args, work)
        print(f"{args.set}: {args.level} mesh, {triangles} triangles", flush=True)
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            for method in args.methods.split(","):
                command = [sys.executable, __file__, "--child", method, "--size", str(size), "--set", args.set,
                           "--workers", str(args.workers), "--work", str(work)]
                measured = run_measured(command, work / f"{method}_{size}.log")
                if measured.returncode != 0:
                    raise SystemExit(f"{method} at {size}: exit {measured.returncode}\n{measured.stderr_tail}")
                result = json.loads(measured.stderr_tail.splitlines()[-1])
                rows.append((size, method, result, measured.peak_rss_mb))
                print(json.dumps({"size": size, "method": method, **result, "peak_mb": round(measured.peak_rss_mb)}),
                      flush=True)
    print(f"\nTexturing the {args.set} {args.level} mesh ({triangles} triangles), {args.workers} worker(s) for ours")
    print(f"{'size':>6}{'method':>8}{'seconds':>9}{'peak MiB':>10}{'PSNR':>8}  steps (s)")
    for size, method, result, peak in rows:
        steps = " ".join(f"{k} {v:.1f}" for k, v in result["steps"].items())
        print(f"{size:>6}{method:>8}{result['seconds']:>9.1f}{peak:>10.0f}{result['psnr']:>8.2f}  {steps}")


if __name__ == "__main__":
    main()
