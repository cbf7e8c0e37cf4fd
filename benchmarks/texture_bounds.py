"""Texture scores in held-out views for :mod:`benchmarks.mesh`: the GT cameras as camera views, a textured
or geometric file scored against the GT, the split between the outline's pixels and the rest, open3d's
baseline texturing, and the oracle and ceiling bounds (see :mod:`benchmarks.mesh`'s docstring)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.evaluation import Estimate, GroundTruth, Sim3, evaluate
from photogrammetry.evaluation.texture_metrics import TextureEvalConfig, render_in_view
from photogrammetry.evaluation.texture_render import load_textured_mesh
from photogrammetry.io.gltf import write_glb
from photogrammetry.io.mesh import MeshData, TexturedMeshData
from photogrammetry.meshing import CameraView
from photogrammetry.stages.texture import TextureConfig
from photogrammetry.texturing import texture_mesh


def gt_views(gt: GroundTruth, names: list[str], mask_dir: Path | None) -> list[CameraView]:
    """Camera views of GT views, with masks from ``mask_dir`` (``<stem>.png``) when given."""
    views = []
    for name in names:
        view = gt.views[name]
        mask = mask_dir / f"{Path(name).stem}.png" if mask_dir is not None else None
        views.append(CameraView(name=name, K=view.camera.K, R=view.pose.R, t=view.pose.t, width=view.camera.width,
                                height=view.camera.height, image_path=view.image_path,
                                mask_path=mask if mask is not None and mask.is_file() else None))
    return views


def baseline_texture(ours: TexturedMeshData, views: list[CameraView], size: int) -> TexturedMeshData:
    """open3d's ``project_images_to_albedo`` on our mesh and atlas (K in open3d's pixel convention)."""
    import open3d as o3d

    mesh = o3d.t.geometry.TriangleMesh()
    mesh.vertex.positions = o3d.core.Tensor(ours.vertices.astype(np.float32))
    mesh.triangle.indices = o3d.core.Tensor(ours.faces.astype(np.int64))
    mesh.triangle.texture_uvs = o3d.core.Tensor(ours.uv[ours.faces].astype(np.float32))
    shift = np.array([[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])  # open3d: pixel centres at integers
    images = [o3d.t.geometry.Image(o3d.core.Tensor(v.read_image())) for v in views]
    intrinsics = [o3d.core.Tensor(v.K - shift) for v in views]
    extrinsics = [o3d.core.Tensor(np.vstack([np.hstack([v.R, v.t[:, None]]), [0, 0, 0, 1]])) for v in views]
    albedo = mesh.project_images_to_albedo(images, intrinsics, extrinsics, tex_size=size, update_material=False)
    texture = albedo.as_tensor().numpy()[..., :3]
    if texture.dtype != np.uint8:
        texture = np.clip(np.round(texture * 255), 0, 255).astype(np.uint8)
    return TexturedMeshData(vertices=ours.vertices, faces=ours.faces, uv=ours.uv,
                            texture=np.ascontiguousarray(texture))


def file_scores(path: Path, gt: GroundTruth, holdout: list[str], key: str) -> dict:
    """Texture (PSNR, SSIM, coverage) or geometry (F-score by threshold) of one file, in the GT frame."""
    report = evaluate(Estimate(**{key: path}, to_gt=Sim3()), gt, holdout=holdout)
    if key == "textured_mesh_path":
        t = report.texture
        return {"psnr": round(t.psnr, 3), "ssim": round(t.ssim, 4), "coverage": round(t.coverage, 4)}
    geometry = report.points if key == "points_path" else report.mesh
    return {str(k): round(v, 4) for k, v in geometry.fscore.items()} if geometry else {}


def outline_split(path: Path, gt: GroundTruth, holdout: list[str], band: float = 2.5) -> dict:
    """PSNR of a textured mesh pooled over the held-out views' pixels within ``band`` pixels of the
    compared region's outline, where each photo's lens blur mixes in the background (which no
    texture holds), and over the rest of the region; and the outline's share of the pixels."""
    mesh = load_textured_mesh(path)
    raycaster = mesh.raycaster()
    sums = {"outline": [0.0, 0], "inside": [0.0, 0]}
    for name in holdout:
        photo, rendered, _, region = render_in_view(mesh, gt.views[name], max_size=TextureEvalConfig().max_size,
                                                    raycaster=raycaster)
        distance = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
        error = ((rendered - photo) ** 2).mean(axis=2)
        for key, part in (("outline", region & (distance < band)), ("inside", region & (distance >= band))):
            sums[key][0] += float(error[part].sum())
            sums[key][1] += int(part.sum())
    result = {key: round(float(10 * np.log10(count / total)), 3) if total > 0 else None
              for key, (total, count) in sums.items()}
    result["outline_pixels"] = round(sums["outline"][1] / max(sums["outline"][1] + sums["inside"][1], 1), 4)
    return result


def heldout_views(gt: GroundTruth, names: list[str], views: list[CameraView]) -> list[CameraView]:
    """Camera views of held-out views, with masks from the training views' mask folder where it has them."""
    mask_dir = next((v.mask_path.parent for v in views if v.mask_path is not None), None)
    return gt_views(gt, names, mask_dir)


def oracle_psnr(mesh: MeshData, gt: GroundTruth, holdout: list[str], views: list[CameraView],
                config: TextureConfig, out: Path) -> float:
    """Mean PSNR of textures baked from each held-out photo itself, scored in that view: a bound
    on what any texture of this mesh can reach (the mesh's own errors and resampling remain)."""
    values = []
    for name in holdout:
        own = heldout_views(gt, [name], views)
        textured, _ = texture_mesh(mesh, own, replace(config, level_exposure=False))
        write_glb(out / "oracle.glb", textured, extras={"units": "metres"}, generator="benchmark")
        values.append(file_scores(out / "oracle.glb", gt, [name], "textured_mesh_path")["psnr"])
    return round(float(np.mean(values)), 3)


def ceiling_psnr(mesh: MeshData, gt: GroundTruth, holdout: list[str], views: list[CameraView],
                 config: TextureConfig, out: Path) -> float:
    """Mean PSNR in the held-out views of one texture baked from all of them at once (see the
    module docstring): plain projected-area weights (no ramps at edges, no selected view, every
    angle), no levelling."""
    options = replace(config, level_exposure=False)
    options = replace(options, blend=replace(options.blend, edge_margin=0.0, min_cos=0.0, selection_boost=0.0))
    textured, _ = texture_mesh(mesh, heldout_views(gt, holdout, views), options)
    write_glb(out / "ceiling.glb", textured, extras={"units": "metres"}, generator="benchmark")
    return file_scores(out / "ceiling.glb", gt, holdout, "textured_mesh_path")["psnr"]

