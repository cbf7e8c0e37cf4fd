"""Texture: a UV atlas for one detail level of the mesh, coloured from the undistorted photos.

See :func:`photogrammetry.texturing.texture_mesh` for the steps: UV atlas, per-face view
selection by visible projected area with depth tests (smoothed over neighbouring faces),
exposure levelling, two-band blending across views, masks honoured, colour diffused onto
faces no photo sees, padding against bleeding. Writes ``model.obj`` + ``.mtl`` + ``.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import MeshResult, TextureInfo, load_texture_result, read_mesh, write_obj
from photogrammetry.io.undistort import UndistortResult
from photogrammetry.meshing import load_colmap_views
from photogrammetry.texturing import TextureOptions, texture_mesh

_FORMERLY_FLAT = ("level", "use_masks", "atlas", "padding", "smoothness", "level_exposure", "vignetting",
                  "blend.angle_power", "blend.selection_boost", "blend.mask_erosion")


@dataclass(frozen=True, kw_only=True)
class TextureConfig(TextureOptions):
    """Settings of the texture stage: the texturing library's :class:`~photogrammetry.texturing.TextureOptions`
    (declared there) and which mesh to texture with which photos."""

    level: Literal["preview", "reduced", "medium", "full", "raw"] = "medium"
    """Detail level of the mesh to texture (about 25k / 50k / 100k / 250k triangles, or raw)."""
    use_masks: bool = True
    """Take colour only inside the photos' object masks, when they have masks."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        **{path: path.rpartition(".")[2] for path in _FORMERLY_FLAT},
        "size": "texture_size", "blend.low_sigma": "blend_sigma"}
    """The flat names these options had in the cache key before they were nested (stage version 3)."""


def run(config: TextureConfig, ctx: StageContext, *, mesh: MeshResult, undistort: UndistortResult) -> dict[str, Any]:
    """Texture the mesh of ``mesh`` with the photos of ``undistort`` into ``ctx.out``."""
    views = load_colmap_views(undistort.model, undistort.image_dir, undistort.masks_dir if config.use_masks else None)
    model = read_mesh(mesh.level_path(config.level))
    ctx.log.info("texturing the %s mesh (%d triangles) from %d photos into a %d px atlas", config.level,
                 len(model.faces), len(views), config.size)
    with ctx.heartbeat("UV atlas") as beat:
        textured, report = texture_mesh(model, views, config, workers=ctx.workers, on_step=beat.step)
    if report.corner_falloff is not None:
        ctx.log.info("vignetting removed: brightness falling to %s of the centre's (image corners, or the "
                     "farthest a surface point was seen from the centre)",
                     ", ".join(f"{100 * v:.0f} %" for v in report.corner_falloff))
    write_obj(ctx.out, textured, name="model")
    info = TextureInfo(units=mesh.info.units, level=config.level, texture_size=config.size,
                       triangles=len(textured.faces), views=report.views_used,
                       unseen_faces=round(report.unseen_faces, 5))
    write_json(ctx.out / "texture.json", info)
    ctx.log.info("texture steps: %s", ", ".join(f"{step} {seconds:.1f} s" for step, seconds in report.seconds.items()))
    if report.unseen_faces > 0.05:
        ctx.log.warning("%.0f %% of the faces are seen by no photo; their colour is interpolated",
                        100 * report.unseen_faces)
    return {"triangles": len(textured.faces), "views": report.views_used, "texture_size": config.size}


STAGE = StageSpec(
    name="texture",
    version=3,
    config=TextureConfig,
    run=run,
    load=load_texture_result,
    requires=("mesh", "undistort"),
    outputs={"textured_obj": "model.obj", "texture": "model.png"},
    cost=Cost(seconds=0.4),
    summary="UV atlas and texture from the photos: view selection, levelling, blending, padding.",
)
