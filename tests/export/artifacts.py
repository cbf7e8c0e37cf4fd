"""Hand-built upstream artifacts of the export stage (ingest, scale, fusion, texture) from a moved sample scene."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.engine.stage import StageContext
from photogrammetry.export.files import moved_model
from photogrammetry.io.fusion import FusionResult, FusionSummary
from photogrammetry.io.ingest import IngestReport, IngestResult, ImageRecord
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import MeshData, TexturedMeshData, TextureInfo, load_texture_result, write_obj, write_ply
from photogrammetry.io.scale import ScaleInfo, ScaleResult, save_scale
from tests.export.scenes import MovedScene


@dataclass(frozen=True)
class Upstream:
    """The export stage's keyword arguments."""

    ingest: IngestResult
    scale: ScaleResult
    fusion: FusionResult
    texture: object

    def kwargs(self) -> dict[str, object]:
        return {"ingest": self.ingest, "scale": self.scale, "fusion": self.fusion, "texture": self.texture}


def ingest_of(root: Path, names: list[str]) -> IngestResult:
    """An ingest result listing ``names`` as ``root/images/<name>``, 640 x 480 (no files are read)."""
    records = tuple(ImageRecord(name=name, file=f"images/{name}", source=name, camera_id=1, width=640, height=480,
                                scale=1.0, orientation=1, focal_px=None, focal_source="none", make=None, model=None,
                                lens=None, focal_mm=None, mask=None, sha256="") for name in names)
    return IngestResult(root=root, images=records, cameras=(), report=IngestReport(skipped=(), duplicates=()))


def upstream(scene: MovedScene, root: Path, *, units: str = "sfm") -> Upstream:
    """Artifacts in ``root``: the GT cameras and sparse points moved like ``scene`` (the scale stage's model),
    its depth points (fusion) and its mesh with a flat grey texture (texture)."""
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
        fusion=FusionResult(root=root / "fusion", summary=summary), texture=load_texture_result(root / "texture"))


def context(root: Path, name: str = "export") -> StageContext:
    (root / name).mkdir(parents=True, exist_ok=True)
    return StageContext(name=name, out=root / name, photos=root, workers=1, progress=False)
