"""Benchmark of the mesh, texture and export stages, side by side with open3d's baseline texturing.

    python benchmarks/mesh.py                              # every sample scene, and the temple if present
    python benchmarks/mesh.py --sets turntable,temple --texture-size 2048 --out mesh_bench.json

For each set:

- Input cloud: sample scenes: points sampled on the GT mesh with a density following the
  pixels of the training photos that see it (as in a fused MVS cloud), kept where at least two training
  photos see them, coloured from the photos, with Gaussian noise of half a pixel's footprint
  along the normal (0.15 across), 1 % outliers and three floater clusters (a stand-in for
  the ``fusion`` stage's output).
  Temple (no GT mesh): the visual hull of the photos' silhouettes (dark background); with
  ``--real-mesh mvs``, our depth (``--real-mvs``, GT cameras) and fusion stages' cloud instead
  (see :mod:`benchmarks.mvs_cloud`), meshed like the sample scenes' clouds.
- Mesh: :func:`photogrammetry.stages.mesh.build_mesh` (time and triangles per detail
  level; F-score of the cloud, of the cloud without its scattered outliers and of the mesh
  against the GT mesh).
- Texture: every fourth view is held out; the ``--level`` mesh is textured from the rest by
  our texture stage and by open3d's ``project_images_to_albedo`` on the same mesh, atlas and
  texture size; both GLBs are rendered into the held-out views (PSNR, SSIM; also split between
  the pixels on the outline of the compared region and the rest). The oracle
  column bakes each held-out photo onto the mesh and scores it in that same view: no texture
  of this mesh can do much better, since the mesh's errors and the resampling remain. The
  ceiling column bakes one texture from all the held-out photos at once (no levelling; each
  surface point the mean of what they show of it, weighted by its projected area in each: the
  least-squares colour for those photos) and scores it in them. It is fitted to the very
  photos it is scored on, so a texture of this mesh made from the training photos is not
  expected to exceed it: what it leaves is what one colour per surface point cannot hold
  (shading that changes with the view, vignetting, noise). The reference column (sample
  scenes) is the view-weighted mean colour of every surface point computed from the exact
  scene (:mod:`benchmarks.texture_reference`): what a texture made from the training photos
  reaches without mesh, resampling or noise errors, since it cannot hold each held-out photo's
  own shading and vignetting. It is computed in each held-out photo's own pixels, through that
  photo's lens blur, which no texture carries, so it can lie above the ceiling.

Object scenes use their object masks as the photos' masks (as ingest makes them from alpha
channels); the temple uses silhouettes thresholded from its dark background (``--no-texture-masks``:
the textures use no masks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.hull import silhouettes, visual_hull  # noqa: E402
from benchmarks.mvs_cloud import mvs_cloud  # noqa: E402
from benchmarks.sets import available_sets  # noqa: E402
from benchmarks.texture_bounds import (baseline_texture, ceiling_psnr, file_scores, gt_views,  # noqa: E402
                                       oracle_psnr, outline_split)
from benchmarks.texture_reference import static_reference  # noqa: E402
from photogrammetry.evaluation import GroundTruth, load_ground_truth  # noqa: E402
from photogrammetry.io.gltf import write_glb  # noqa: E402
from photogrammetry.io.mesh import LEVEL_NAMES, MeshData, write_ply  # noqa: E402
from photogrammetry.meshing import CameraView, OrientedCloud, colmap_points  # noqa: E402
from photogrammetry.meshing.seen import SeenOptions  # noqa: E402
from photogrammetry.stages.mesh import MeshBuild, MeshConfig, build_mesh  # noqa: E402
from photogrammetry.stages.texture import TextureConfig  # noqa: E402
from photogrammetry.texturing import BlendOptions, texture_mesh  # noqa: E402


def _raycaster(vertices: np.ndarray, faces: np.ndarray):
    from photogrammetry.texturing.visibility import MeshScene

    return MeshScene(vertices, faces)


def gt_cloud(gt: GroundTruth, views: list[CameraView], *, count: int = 800_000, noise: float = 0.5,
             seed: int = 0) -> OrientedCloud:
    """A fused-cloud stand-in sampled on the GT mesh (see the module docstring)."""
    from photogrammetry.evaluation.raycast import read_mesh
    from photogrammetry.texturing.charts import face_normals

    rng = np.random.default_rng(seed)
    vertices, faces = read_mesh(gt.scene_mesh_path or gt.object_mesh_path)
    normals, _ = face_normals(vertices, faces)
    scene, renders = _raycaster(vertices, faces), []
    pixels = np.zeros(len(faces))
    for view in views:  # a fused MVS cloud has about one point per pixel of every photo
        depth, ids = scene.render(view)
        renders.append(depth)
        pixels += np.bincount(ids[ids >= 0], minlength=len(faces))
    face = rng.choice(len(faces), size=count, p=pixels / pixels.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    weights = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    points, point_normals = np.einsum("nk,nkd->nd", weights, vertices[faces[face]]), normals[face]
    seen, colors, facing = np.zeros(count), np.zeros((count, 3)), np.zeros(count)
    for view, depth in zip(views, renders, strict=True):
        pix, z = view.project(points)
        col, row = np.floor(pix[:, 0]).astype(int), np.floor(pix[:, 1]).astype(int)
        ok = (z > 0) & (col >= 0) & (row >= 0) & (col < view.width) & (row < view.height)
        ok[ok] &= np.abs(depth[row[ok], col[ok]] - z[ok]) < 0.005 * z[ok]
        seen += ok
        colors[ok] += view.read_image()[row[ok], col[ok]] / 255.0
        facing[ok] += np.einsum("nd,nd->n", point_normals[ok], view.center - points[ok])
    keep = seen >= 2
    point_normals = np.where(facing[:, None] < 0, -point_normals, point_normals)  # towards the cameras
    points, point_normals, colors = points[keep], point_normals[keep], colors[keep] / seen[keep, None]
    distance = np.min([np.linalg.norm(points - v.center, axis=1) for v in views], axis=0)
    footprint = distance / views[0].K[0, 0]
    points = points + rng.normal(0, noise, (len(points), 1)) * footprint[:, None] * point_normals \
        + rng.normal(0, 0.3 * noise, points.shape) * footprint[:, None]
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float(np.linalg.norm(high - low))
    extra = [rng.uniform(low, high, (len(points) // 100, 3))]
    extra += [rng.uniform(low, high) + rng.normal(0, 0.01 * extent, (300, 3)) for _ in range(3)]
    extra_points = np.concatenate(extra)
    extra_normals = rng.normal(size=extra_points.shape)
    extra_normals /= np.linalg.norm(extra_normals, axis=1, keepdims=True)
    return OrientedCloud(points=np.concatenate([points, extra_points]),
                         normals=np.concatenate([point_normals, extra_normals]),
                         colors=np.concatenate([colors, rng.random(extra_points.shape)]))


def inliers(points: np.ndarray, *, radius: float = 0.0025, min_neighbours: int = 2) -> np.ndarray:
    """The points (N, 3) with at least ``min_neighbours`` others within ``radius`` times the
    cloud's diagonal. Scattered outliers inflate a cloud's recall in thin scenes (each one
    "completes" the GT surface around it), which no surface keeps: this is the fairer reference."""
    from scipy.spatial import cKDTree

    reach = radius * float(np.linalg.norm(np.ptp(points, axis=0)))
    counts = cKDTree(points).query_ball_point(points, reach, return_length=True, workers=-1)
    return points[counts > min_neighbours]


def prepare(name: str, gt: GroundTruth, train: list[str], work: Path,
            args: argparse.Namespace) -> tuple[list[CameraView], OrientedCloud | None, MeshData | None,
                                               np.ndarray | None]:
    """Views (with masks), the input cloud (sample scenes; real sets with ``--real-mesh mvs``) or the
    hull mesh (real sets), SfM-like points."""
    if gt.scene_mesh_path is None and gt.object_mesh_path is None:  # a real set: visual hull
        views = silhouettes(gt_views(gt, train, None), work / "masks")
        box = gt.object_bbox if gt.object_bbox is not None else None
        if box is None:
            raise SystemExit(f"{name}: no GT mesh and no object box: cannot make a visual hull")
        grow = 0.1 * (box[1] - box[0])
        hull = visual_hull(views, np.stack([box[0] - grow, box[1] + grow]))
        if args.real_mesh == "hull":
            return views, None, hull, None
        cloud, points, seconds = mvs_cloud(views, hull, work / "depth", args.real_mvs)
        print(f"{name}: {args.real_mvs} depth and fusion of {len(views)} views in {seconds:.0f} s", flush=True)
        return views, cloud, None, points
    views = sample_views(gt, train)
    points = colmap_points(Path(gt.source) / "gt" / "sparse")
    return views, gt_cloud(gt, views), None, points


def split(gt: GroundTruth) -> tuple[list[str], list[str]]:
    """The training views and the held-out ones (every fourth view) of a set."""
    holdout = gt.names[::4]
    return [n for n in gt.names if n not in holdout], holdout


def sample_views(gt: GroundTruth, names: list[str]) -> list[CameraView]:
    """Views of a sample scene, with its object masks when it has them."""
    mask_dir = Path(gt.source) / "gt" / "masks"
    return gt_views(gt, names, mask_dir if mask_dir.is_dir() else None)


def run_set(name: str, gt_path: Path, args: argparse.Namespace, work: Path) -> dict:
    """Mesh, texture (ours and baseline) and evaluate one set; returns its results."""
    gt = load_ground_truth(gt_path)
    train, holdout = split(gt)
    views, cloud, hull, points = prepare(name, gt, train, work, args)
    leaked = sorted({v.name for v in views} & set(holdout))
    if leaked:  # the texture must never see the photos it is scored on
        raise SystemExit(f"{name}: held-out views among the texture's inputs: {leaked}")
    result: dict = {"set": name, "views": len(train), "holdout": holdout}
    start = time.perf_counter()
    if cloud is not None:
        write_ply(work / "cloud.ply", MeshData(vertices=cloud.points, faces=np.zeros((0, 3)), colors=cloud.colors))
        config = MeshConfig(method=args.method, seen=SeenOptions(unseen=args.unseen))
        build = build_mesh(config, cloud, views, points)
        if gt.scene_mesh_path is not None or gt.object_mesh_path is not None:
            result["fscore_cloud"] = file_scores(work / "cloud.ply", gt, [], "points_path")
            write_ply(work / "cloud_inliers.ply", MeshData(vertices=inliers(cloud.points), faces=np.zeros((0, 3))))
            result["fscore_cloud_inliers"] = file_scores(work / "cloud_inliers.ply", gt, [], "points_path")
    else:
        from photogrammetry.meshing import clean, detail_levels

        raw = clean(hull, min_component_fraction=0.05, max_components=0, hole_radius=0.0)
        levels = detail_levels(raw)
        build = MeshBuild(raw=raw, levels={k: m for k, (m, _) in levels.items()}, box=None,
                          seconds={f"level_{k}": round(took, 3) for k, (_, took) in levels.items()})
    result["mesh_seconds"] = round(time.perf_counter() - start, 2)
    result["levels"] = {}
    texture_views = [replace(v, mask_path=None) for v in views] if args.no_texture_masks else views
    for level in LEVEL_NAMES:
        mesh = build.raw if level == "raw" else build.levels[level]
        path = work / f"mesh_{level}.ply"
        write_ply(path, mesh)
        entry = {"triangles": len(mesh.faces), "decimate_s": build.seconds.get(f"level_{level}", 0.0)}
        if "fscore_cloud" in result and (level == "raw" or args.all_levels):
            entry["fscore"] = file_scores(path, gt, [], "mesh_path")
        if level == args.level or args.all_levels:
            entry.update(_texture(mesh, texture_views, gt, holdout, args, work / level, baseline=level == args.level))
        result["levels"][level] = entry
    result["reference_psnr"] = static_reference(name, gt, holdout, work / args.level / "ours.glb")
    return result


def _texture(mesh: MeshData, views: list[CameraView], gt: GroundTruth, holdout: list[str],
             args: argparse.Namespace, out: Path, *, baseline: bool) -> dict:
    """Texture one level with our stage (and the baseline) and score both in the held-out views."""
    out.mkdir(parents=True, exist_ok=True)
    config = TextureConfig(size=args.texture_size, vignetting=args.vignetting,
                           blend=BlendOptions(low_sigma=args.blend_sigma))
    start = time.perf_counter()
    ours, report = texture_mesh(mesh, views, config, workers=args.workers)
    entry = {"texture_s": round(time.perf_counter() - start, 2), "texture_steps": report.seconds}
    write_glb(out / "ours.glb", ours, extras={"units": "metres"}, generator="benchmark")
    entry["ours"] = file_scores(out / "ours.glb", gt, holdout, "textured_mesh_path")
    entry["ours"]["split"] = outline_split(out / "ours.glb", gt, holdout)
    if baseline:
        start = time.perf_counter()
        base = baseline_texture(ours, views, args.texture_size)
        entry["baseline_s"] = round(time.perf_counter() - start, 2)
        write_glb(out / "baseline.glb", base, extras={"units": "metres"}, generator="benchmark")
        entry["baseline"] = file_scores(out / "baseline.glb", gt, holdout, "textured_mesh_path")
        entry["baseline"]["split"] = outline_split(out / "baseline.glb", gt, holdout)
        entry["oracle_psnr"] = oracle_psnr(mesh, gt, holdout, views, config, out)
        entry["ceiling_psnr"] = ceiling_psnr(mesh, gt, holdout, views, config, out)
    return entry


def print_table(results: list[dict], level: str) -> None:
    """Texture, geometry and per-level tables on stdout."""
    print(f"\nHeld-out-view texture quality (level {level})")
    print(f"{'set':<12}{'ours PSNR':>10}{'o3d PSNR':>10}{'gain dB':>9}{'ours SSIM':>10}{'o3d SSIM':>10}"
          f"{'oracle PSNR':>12}{'ceiling':>9}{'reference':>10}")
    for r in results:
        entry = r["levels"][level]
        ours, base = entry["ours"], entry["baseline"]
        print(f"{r['set']:<12}{ours['psnr']:>10.2f}{base['psnr']:>10.2f}{ours['psnr'] - base['psnr']:>9.2f}"
              f"{ours['ssim']:>10.3f}{base['ssim']:>10.3f}{entry.get('oracle_psnr', float('nan')):>12.2f}"
              f"{entry.get('ceiling_psnr', float('nan')):>9.2f}"
              f"{r.get('reference_psnr') or float('nan'):>10.2f}")
    print("(oracle: texture baked from the held-out photo itself, a bound for any texture of this mesh;")
    print(" ceiling: one texture baked from all the held-out photos at once and scored in them, what a static")
    print(" texture of this mesh reaches there when fitted to those very photos;")
    print(" reference: the view-weighted mean colour from the exact scene, what a texture made from the training")
    print(" photos reaches without mesh, resampling or noise errors; sample scenes only)")
    print("\nThe same PSNR split: pixels within 2 px of the compared region's outline (where the photos' lens blur")
    print("mixes in the background) and the rest")
    print(f"{'set':<12}{'outline px':>11}{'outline ours':>13}{'o3d':>7}{'inside ours':>12}{'o3d':>7}{'gain dB':>9}")
    for r in results:
        ours, base = r["levels"][level]["ours"]["split"], r["levels"][level]["baseline"]["split"]
        print(f"{r['set']:<12}{ours['outline_pixels']:>11.3f}{ours['outline']:>13.2f}{base['outline']:>7.2f}"
              f"{ours['inside']:>12.2f}{base['inside']:>7.2f}{ours['inside'] - base['inside']:>9.2f}")
    print("\nF-score against the GT mesh (thresholds relative to the extent)")
    for r in results:
        if "fscore_cloud" in r:
            print(f"{r['set']:<12} cloud {r['fscore_cloud']}  cloud without scattered outliers "
                  f"{r['fscore_cloud_inliers']}  mesh {r['levels']['raw'].get('fscore')}")
    print("\nDetail levels: triangles, decimation s, texturing s, ours PSNR")
    for r in results:
        cells = [f"{lv}: {e['triangles']} tris {e['decimate_s']:.1f}s"
                 + (f" tex {e['texture_s']:.0f}s {e['ours']['psnr']:.2f}dB" if "ours" in e else "")
                 for lv, e in r["levels"].items()]
        print(f"{r['set']:<12}" + " | ".join(cells))


def main() -> None:
    """Command line: run the sets, print the tables, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="", help="comma-separated set names (default: sample scenes + temple)")
    parser.add_argument("--level", default="medium", choices=LEVEL_NAMES, help="detail level to texture")
    parser.add_argument("--texture-size", type=int, default=2048)
    parser.add_argument("--blend-sigma", type=float, default=TextureConfig().blend.low_sigma)
    parser.add_argument("--vignetting", action="store_true", help="our texture fits and removes the vignetting")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="threads of our texturing (the stage's default; open3d uses every core)")
    parser.add_argument("--method", default="poisson", help="mesher")
    parser.add_argument("--unseen", default=SeenOptions().unseen, choices=("auto", "remove", "keep"),
                        help="faces no photo sees (mesh.seen.unseen): keep gives the mesh as before they were removed")
    parser.add_argument("--real-mesh", choices=("hull", "mvs"), default="hull",
                        help="mesh of real sets (no GT mesh): their visual hull, or our MVS + fusion + mesh stages")
    parser.add_argument("--real-mvs", default="ncc", help="MVS method for --real-mesh mvs")
    parser.add_argument("--no-texture-masks", action="store_true", help="texture without the photos' masks")
    parser.add_argument("--all-levels", action="store_true", help="texture and score every level")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--keep", type=Path, default=None, help="keep the meshes and GLBs in this folder")
    args = parser.parse_args()
    sets = available_sets()
    names = args.sets.split(",") if args.sets else [n for n, s in sets.items() if s.kind == "sample" or n == "temple"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            work = (args.keep or Path(tmp)) / name
            work.mkdir(parents=True, exist_ok=True)
            results.append(run_set(name, sets[name].gt, args, work))
            print(json.dumps(results[-1]), flush=True)
    print_table(results, args.level)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
