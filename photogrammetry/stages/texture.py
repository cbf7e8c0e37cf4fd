"""Texture: a UV atlas for detail levels of the mesh, coloured from the undistorted photos.

See :func:`photogrammetry.texturing.texture_mesh` for the steps: UV atlas, per-face view
selection by visible projected area with depth tests (smoothed over neighbouring faces),
exposure levelling, two-band blending across views, masks honoured, colour diffused onto
faces no photo sees, padding against bleeding, and on decimated levels a tangent-space normal
map baked from the raw mesh. Writes ``model.obj`` + ``.mtl`` + ``.png`` (+ ``model_normal.png``)
for ``level``, and the same in ``levels/<level>/`` for each of ``levels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.io.jsonio import write_json
from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import (LEVEL_NAMES, MeshData, MeshResult, TexturedMeshData, TextureInfo,
                                    load_texture_result, read_mesh)
from photogrammetry.io.obj import write_obj
from photogrammetry.io.undistort import UndistortResult
from photogrammetry.meshing import load_colmap_views
from photogrammetry.texturing import TextureOptions, TextureReport, texture_mesh

_FORMERLY_FLAT = ("level", "use_masks", "atlas", "padding", "smoothness", "level_exposure", "vignetting",
                  "blend.angle_power", "blend.selection_boost", "blend.mask_erosion")


@dataclass(frozen=True, kw_only=True)
class TextureConfig(TextureOptions):
    """Settings of the texture stage: the texturing library's :class:`~photogrammetry.texturing.TextureOptions`
    (declared there) and which mesh to texture with which photos."""

    level: Literal["preview", "reduced", "medium", "full", "raw"] = "medium"
    """Detail level of the mesh to texture (about 25k / 50k / 100k / 250k triangles, or raw): the
    model export publishes."""
    levels: tuple[str, ...] = ()
    """Further detail levels to texture as well, each into ``levels/<level>/`` (e.g. ``["preview",
    "full"]``; ``["all"]``: every level); export writes each beside the main model."""
    normal_map: bool = True
    """Bake a tangent-space normal map of the raw mesh onto each decimated level textured (the raw
    level needs none): its detail shades on the lighter mesh."""
    use_masks: bool = True
    """Take colour only inside the photos' object masks, when they have masks."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        **{path: path.rpartition(".")[2] for path in _FORMERLY_FLAT},
        "size": "texture_size", "blend.low_sigma": "blend_sigma"}
    """The flat names these options had in the cache key before they were nested (stage version 3)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = sorted(set(self.levels) - {*LEVEL_NAMES, "all"})
        if unknown:
            raise ConfigError(f"texture.levels: unknown {unknown}; choose among all, {', '.join(LEVEL_NAMES)}")

    def extra_levels(self) -> tuple[str, ...]:
        """The levels textured besides :attr:`level`, coarsest first."""
        wanted = set(LEVEL_NAMES) if "all" in self.levels else set(self.levels)
        return tuple(name for name in LEVEL_NAMES if name in wanted and name != self.level)


def _texture_level(config: TextureConfig, ctx: StageContext, mesh: MeshResult, level: str, views: list,
                   raw: MeshData | None) -> tuple[TexturedMeshData, TextureReport]:
    """One level textured (with a normal map of ``raw`` unless it is the raw level)."""
    model = read_mesh(mesh.level_path(level))
    detail = raw if level != "raw" else None
    ctx.log.info("texturing the %s mesh (%d triangles) from %d photos into a %d px atlas%s", level,
                 len(model.faces), len(views), config.size, " with a normal map" if detail is not None else "")
    with ctx.heartbeat(f"UV atlas ({level})") as beat:
        textured, report = texture_mesh(model, views, config, workers=ctx.workers, on_step=beat.step, detail=detail)
    ctx.log.info("%s: %s", level, ", ".join(f"{step} {seconds:.1f} s" for step, seconds in report.seconds.items()))
    if report.unseen_faces > 0.05:
        ctx.log.warning("%s: %.0f %% of the faces are seen by no photo; their colour is interpolated", level,
                        100 * report.unseen_faces)
    return textured, report


def run(config: TextureConfig, ctx: StageContext, *, mesh: MeshResult, undistort: UndistortResult) -> dict[str, Any]:
    """Texture the mesh of ``mesh`` with the photos of ``undistort`` into ``ctx.out``."""
    views = load_colmap_views(undistort.model, undistort.image_dir, undistort.masks_dir if config.use_masks else None)
    extra = config.extra_levels()
    baked = config.normal_map and any(level != "raw" for level in (config.level, *extra))
    raw = read_mesh(mesh.level_path("raw")) if baked else None
    textured, report = _texture_level(config, ctx, mesh, config.level, views, raw)
    if report.corner_falloff is not None:
        ctx.log.info("vignetting removed: brightness falling to %s of the centre's (image corners, or the "
                     "farthest a surface point was seen from the centre)",
                     ", ".join(f"{100 * v:.0f} %" for v in report.corner_falloff))
    write_obj(ctx.out, textured, name="model")
    triangles = {}
    for level in extra:
        other, _ = _texture_level(config, ctx, mesh, level, views, raw)
        write_obj(ctx.out / "levels" / level, other, name="model")
        triangles[level] = len(other.faces)
    info = TextureInfo(units=mesh.info.units, level=config.level, texture_size=config.size,
                       triangles=len(textured.faces), views=report.views_used,
                       unseen_faces=round(report.unseen_faces, 5), levels=triangles, normal_map=baked)
    write_json(ctx.out / "texture.json", info)
    return {"triangles": len(textured.faces), "views": report.views_used, "texture_size": config.size,
            "levels": 1 + len(extra)}


STAGE = StageSpec(
    name="texture",
    version=4,  # 4: normal maps baked from the raw mesh; further levels on request
    config=TextureConfig,
    run=run,
    load=load_texture_result,
    requires=("mesh", "undistort"),
    outputs={"textured_obj": "model.obj", "texture": "model.png"},
    cost=Cost(seconds=0.4),
    summary="UV atlas and texture from the photos: view selection, levelling, blending, padding.",
)
