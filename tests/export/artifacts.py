"""Hand-built upstream artifacts of the export stage (ingest, scale, fusion, texture) from a moved sample scene."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.engine.stage import StageContext
from photogrammetry.export.files import moved_model
from photogrammetry.io.depth import DepthResult, DepthSummary, DepthView, load_depth, save_array, save_depth_summary
from photogrammetry.io.fusion import FusionResult, FusionSummary
from photogrammetry.io.ingest import IngestReport, IngestResult, ImageRecord
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import MeshData, TexturedMeshData, TextureInfo, load_texture_result, write_ply
from photogrammetry.io.obj import write_obj
from photogrammetry.io.masks import MaskSet, load_mask_set, read_mask, save_mask_set, write_mask
from photogrammetry.io.scale import ScaleInfo, ScaleResult, save_scale
from photogrammetry.synthetic import load_depth as load_gt_depth
from tests.export.scenes import SAMPLES, MovedScene


@dataclass(frozen=True)
class Upstream:
    """The export stage's keyword arguments."""

    ingest: IngestResult
    scale: ScaleResult
    fusion: FusionResult
    texture: object
    masks: MaskSet | None = None
    depth: DepthResult | None = None

    def kwargs(self) -> dict[str, object]:
        return {"ingest": self.ingest, "scale": self.scale, "fusion": self.fusion, "texture": self.texture,
                "masks": self.masks, "depth": self.depth}


def masks_and_depth(scene_name: str, scene: MovedScene, root: Path) -> tuple[MaskSet, DepthResult]:
    """The scene's GT masks (every other image) as a masks artifact, and its GT depth maps at half size
    (in the moved frame's units) as a depth artifact, in ``root``."""
    gt = SAMPLES / scene_name / "gt"
    depth_scale = json.loads((gt / "scene.json").read_text())["depth_scale"]
    files, views = {}, []
    for index, name in enumerate(scene.names):
        stem = Path(name).stem
        files[name] = write_mask(root / "masks", name, read_mask(gt / "masks" / f"{stem}.png")) if index % 2 else None
        image = scene.gt.find_image_with_name(name)
        K = scene.gt.cameras[image.camera_id].calibration_matrix() * np.array([[0.5], [0.5], [1.0]])
        scale = float(np.cbrt(np.linalg.det(scene.moved_from_gt[:3, :3])))
        depth = load_gt_depth(gt / "depth" / f"{stem}.png", depth_scale)[::2, ::2] * scale
        save_array(root / "depth" / "depth" / f"{name}.npy", depth.astype(np.float32))
        R, t = scene.cam_from_world[index][:, :3], scene.cam_from_world[index][:, 3]
        views.append(DepthView(name=name, image=f"images/{name}", width=depth.shape[1], height=depth.shape[0],
                               K=tuple(map(tuple, K)), R=tuple(map(tuple, R)), t=tuple(t), depth_range=(0.1, 10.0),
                               sources=(), kept=1.0))
    save_mask_set(root / "masks", "gt", files)
    save_depth_summary(root / "depth", DepthSummary(method="gt", learned=False, views=tuple(views), units="metres"))
    return load_mask_set(root / "masks"), load_depth(root / "depth")


def ingest_of(root: Path, names: list[str]) -> IngestResult:
    """An ingest result listing ``names`` as ``root/images/<name>``, 640 x 480 (no files are read)."""
    records = tuple(ImageRecord(name=name, file=f"images/{name}", source=name, camera_id=1, width=640, height=480,
                                scale=1.0, orientation=1, focal_px=None, focal_source="none", make=None, model=None,
                                lens=None, focal_mm=None, mask=None, sha256="") for name in names)
    return IngestResult(root=root, images=records, cameras=(), report=IngestReport(skipped=(), duplicates=()))


def upstream(scene: MovedScene, root: Path, *, units: str = "sfm", maps_of: str | None = None) -> Upstream:
    """Artifacts in ``root``: the GT cameras and sparse points moved like ``scene`` (the scale stage's model),
    its depth points (fusion), its mesh with a flat grey texture (texture), a placeholder file per photo
    (ingest) and, with ``maps_of`` (the scene's name), masks and depth maps (:func:`masks_and_depth`)."""
    for name in scene.names:
        (root / "ingest" / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "ingest" / "images" / name).write_bytes(f"photo {name}".encode())
    maps = masks_and_depth(maps_of, scene, root) if maps_of else (None, None)
    (root / "scale" / "model").mkdir(parents=True)
    model = moved_model(pycolmap.Reconstruction(scene.gt), scene.moved_from_gt)
    model.write_binary(str(root / "scale" / "model"))
    save_scale(root / "scale", ScaleInfo(method="none" if units == "sfm" else "points", units=units, scale=1.0,
                                         relative_uncertainty=None, samples=0))
    (root / "fusion").mkdir()
    write_ply(root / "fusion" / "fused.ply", MeshData(vertices=scene.points, faces=np.zeros((0, 3))))
    summary = FusionSummary(method="points", points=len(scene.points), voxel_size=0.01)
    write_json(root / "fusion" / "fusion.json", summary)
    rng = np.random.default_rng(0)
    textured = TexturedMeshData(vertices=scene.vertices, faces=scene.faces,
                                uv=rng.uniform(0, 1, (len(scene.vertices), 2)),
                                texture=np.full((8, 8, 3), 128, dtype=np.uint8))
    write_obj(root / "texture", textured, name="model")
    write_json(root / "texture" / "texture.json", TextureInfo(units=units, level="raw", texture_size=8,
                                                               triangles=len(scene.faces), views=1, unseen_faces=0.0))
    return Upstream(ingest=ingest_of(root / "ingest", scene.names), scale=ScaleResult(root / "scale", ScaleInfo(
        method="none", units=units, scale=1.0, relative_uncertainty=None, samples=0)),
        fusion=FusionResult(root=root / "fusion", summary=summary), texture=load_texture_result(root / "texture"),
        masks=maps[0], depth=maps[1])


def context(root: Path, name: str = "export") -> StageContext:
    (root / name).mkdir(parents=True, exist_ok=True)
    return StageContext(name=name, out=root / name, photos=root, workers=1, progress=False)
