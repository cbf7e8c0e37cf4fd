"""Export: the textured model upright, centred and sized, as GLB, OBJ + MTL + texture and PLY, with its cameras.

Each further detail level the texture stage made is written the same way into ``levels/<level>/``;
normal maps go along (GLB ``normalTexture`` with tangents, OBJ ``norm`` / ``map_Bump``).

The frame (:mod:`photogrammetry.export.frame`): up from the cameras, refined by a ground plane
or a wall of the fused points, or a turntable's axis; origin at the model's centre or the ground
under it; the largest side 1 unit when the scale is unknown (or SfM units kept). The GLB is +Y
up (glTF); the OBJ, PLY and cameras are Y or Z up (``frame.up_axis``). ``export.json`` stores the
transforms from the reconstruction's frame, and ``cameras/`` holds the photos' cameras moved
the same way, so the model still lines up with the photos. Files: :mod:`photogrammetry.io.export`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from photogrammetry._version import __version__
from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError
from photogrammetry.export import UNIT_WORDS, Z_UP_FROM_Y_UP, FrameOptions, ModelFrame, model_frame
from photogrammetry.export.files import moved_mesh, write_cameras
from photogrammetry.io.depth import DepthResult, load_array
from photogrammetry.io.fusion import FusionResult
from photogrammetry.io.export import ExportInfo, load_export_result, save_export_info
from photogrammetry.io.gltf import write_glb
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.mesh import TextureResult, TexturedMeshData, write_textured_ply
from photogrammetry.io.masks import MaskSet
from photogrammetry.io.obj import obj_texture_name, read_obj, write_obj
from photogrammetry.io.scale import ScaleResult

_FORMATS = ("glb", "obj", "ply", "cameras", "voxels")
_DEFAULT_FORMATS = ("glb", "obj", "ply", "cameras")


@dataclass(frozen=True, kw_only=True)
class ExportConfig:
    """Settings of the export stage."""

    formats: tuple[str, ...] = _DEFAULT_FORMATS
    """Files to write: any of ``glb`` (one file, texture embedded), ``obj`` (+ MTL + texture), ``ply``,
    ``cameras`` (COLMAP model and nerfstudio ``transforms.json`` in the model's frame), ``voxels``
    (the fused cloud's occupancy and colour as open3d's ``VoxelGrid`` PLY, ``voxels.ply``)."""
    image_format: Literal["png", "jpeg"] = "png"
    """Encoding of the texture in the GLB and beside the OBJ: ``png`` (lossless) or ``jpeg`` (smaller)."""
    jpeg_quality: int = 90
    """Quality of JPEG textures (50..100)."""
    frame: FrameOptions = field(default_factory=FrameOptions)
    """How the model is levelled, centred and sized."""
    voxel_size: float = 0.0
    """``voxels``: edge of a voxel in the exported model's units; 0: 1/100 of the model's largest side."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(_FORMATS))
        if unknown or not self.formats:
            raise ConfigError(f"export.formats must be a non-empty list of {', '.join(_FORMATS)}; got {self.formats}")
        if self.voxel_size < 0:
            raise ConfigError(f"export.voxel_size must be >= 0 (0: 1/100 of the model's size), got {self.voxel_size}")
        if not 50 <= self.jpeg_quality <= 100:
            raise ConfigError(f"export.jpeg_quality must be within 50..100, got {self.jpeg_quality}")


def _frame(config: ExportConfig, ctx: StageContext, model: TexturedMeshData, scale: ScaleResult,
           fusion: FusionResult) -> ModelFrame:
    """The model's frame from the scale stage's cameras and units and the fused points."""
    import open3d as o3d
    import pycolmap

    cameras = pycolmap.Reconstruction(scale.model)
    images = sorted((cameras.image(i) for i in cameras.reg_image_ids()), key=lambda image: image.name)
    poses = np.array([image.cam_from_world().matrix() for image in images])
    points = np.asarray(o3d.io.read_point_cloud(str(fusion.points)).points) if fusion.points.is_file() else None
    frame = model_frame(model.vertices, poses, points, scale.units, config.frame)
    words = UNIT_WORDS[frame.units].format(size=config.frame.size)
    ctx.log.info("up from %s (%.1f deg from the cameras' mean up); model %s x %s x %s (x, y up, z) in %s",
                 frame.up.source, frame.up.camera_tilt_deg, *(f"{v:.3g}" for v in frame.size), words)
    return frame


def _glb(config: ExportConfig, path: Path, model: TexturedMeshData, frame: ModelFrame, info: dict) -> None:
    extras = {"units": frame.units, "units_description": UNIT_WORDS[frame.units].format(size=config.frame.size),
              "up": "+Y", "up_source": frame.up.source, "scale": frame.scale,
              "model_from_reconstruction": frame.model_from_world.tolist(), **info}
    write_glb(path, moved_mesh(model, frame.model_from_world), extras=extras,
              generator=f"photogrammetry {__version__}", image_format=config.image_format,
              jpeg_quality=config.jpeg_quality)


def _voxels(config: ExportConfig, ctx: StageContext, fusion: FusionResult, matrix: np.ndarray,
            model_size: float) -> str:
    """The fused points, moved like the model, as a voxel grid ``voxels.ply``."""
    import open3d as o3d

    from photogrammetry.export.voxels import write_voxels

    cloud = o3d.io.read_point_cloud(str(fusion.points))
    points = np.asarray(cloud.points) @ matrix[:3, :3].T + matrix[:3, 3]
    colors = np.round(np.asarray(cloud.colors) * 255).astype(np.uint8) if cloud.has_colors() else \
        np.full((len(points), 3), 200, np.uint8)
    size = config.voxel_size or model_size / 100
    count = write_voxels(ctx.out / "voxels.ply", points, colors, size)
    ctx.log.info("voxel grid: %d voxels of %.3g", count, size)
    return "voxels.ply"


def _rows(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in matrix)


def _cameras(ctx: StageContext, ingest: IngestResult, masks: MaskSet | None, depth: DepthResult | None,
             scale: ScaleResult, matrix: np.ndarray) -> str:
    """``cameras/``: COLMAP model and nerfstudio dataset (photos, masks, depth maps) in the model's frame."""
    import pycolmap

    by_name = {record.name: record for record in ingest.images}
    views = depth.summary.views if depth is not None else ()
    loaders = {view.name: functools.partial(lambda v: (load_array(depth.depth_path(v.name)), np.array(v.K)), view)
               for view in views}
    counts = write_cameras(pycolmap.Reconstruction(scale.model), matrix, ctx.out / "cameras",
                           lambda name: ingest.image_path(by_name[name]),
                           masks=masks.mask_path if masks is not None else lambda name: None, depths=loaders)
    ctx.log.info("cameras: %d photos, %d with a mask, %d with a depth map", len(by_name), counts["masks"],
                 counts["depths"])
    return "cameras"


def _models(config: ExportConfig, ctx: StageContext, model: TexturedMeshData, frame: ModelFrame,
            matrix: np.ndarray, level: str, folder: str) -> dict[str, str]:
    """``model`` (of detail ``level``) as ``model.glb``, ``.obj``, ``.ply`` in ``ctx.out / folder``; their paths."""
    out = ctx.out / folder
    out.mkdir(parents=True, exist_ok=True)
    moved = moved_mesh(model, matrix)
    files: dict[str, str] = {}
    if "glb" in config.formats:
        _glb(config, out / "model.glb", model, frame, {"triangles": len(model.faces), "detail_level": level})
        files["glb"] = "model.glb"
    if "obj" in config.formats:
        write_obj(out, moved, name="model", image_format=config.image_format)
        files["obj"] = "model.obj"
    if "ply" in config.formats:
        texture_file = obj_texture_name("model", config.image_format) if "obj" in files else None
        write_textured_ply(out / "model.ply", moved, texture_file=texture_file)  # the texture written above
        files["ply"] = "model.ply"
    return {fmt: str(Path(folder) / name) for fmt, name in files.items()}


def run(config: ExportConfig, ctx: StageContext, *, ingest: IngestResult, masks: MaskSet | None, scale: ScaleResult,
        depth: DepthResult | None, fusion: FusionResult, texture: TextureResult) -> dict[str, Any]:
    """Write the textured model of ``texture`` (and its further levels), upright, and the cameras of
    ``scale`` into ``ctx.out``."""
    model = read_obj(texture.obj_path)
    frame = _frame(config, ctx, model, scale, fusion)
    matrix = frame.model_from_world if config.frame.up_axis == "y" else Z_UP_FROM_Y_UP @ frame.model_from_world
    files = _models(config, ctx, model, frame, matrix, texture.info.level, ".")
    for level in texture.info.levels:
        made = _models(config, ctx, read_obj(texture.level_obj_path(level)), frame, matrix, level, f"levels/{level}")
        files.update({f"{level}_{fmt}": path for fmt, path in made.items()})
    if "cameras" in config.formats:
        files["cameras"] = _cameras(ctx, ingest, masks, depth, scale, matrix)
    if "voxels" in config.formats:
        files["voxels"] = _voxels(config, ctx, fusion, matrix, max(frame.size))
    save_export_info(ctx.out, ExportInfo(
        units=frame.units, files=files, triangles=len(model.faces), model_from_world=_rows(matrix),
        glb_from_world=_rows(frame.model_from_world), up_axis=config.frame.up_axis, up_source=frame.up.source,
        scale=frame.scale, size=frame.size))
    ctx.log.info("exported %s (the GLB +Y up, the others +%s up)", ", ".join(files), config.frame.up_axis.upper())
    return {"triangles": len(model.faces), "files": len(files)}


STAGE = StageSpec(
    name="export",
    version=5,  # 2: upright, centred, sized, with cameras; 3: and the PLY names the texture file written;
    # 4: voxels; cameras/ holds its images, masks and depths; 5: normal maps, each textured level
    config=ExportConfig,
    run=run,
    load=load_export_result,
    requires=("ingest", "masks", "scale", "depth", "fusion", "texture"),
    outputs={"textured_model": "model.glb", "obj": "model.obj", "ply": "model.ply", "cameras": "cameras",
             "export": "export.json"},
    cost=Cost(seconds=0.15),
    summary="The model upright, centred and sized, as GLB (+Y up, units in metadata), OBJ + MTL + texture, PLY, "
            "with its cameras (COLMAP, transforms.json).",
)
