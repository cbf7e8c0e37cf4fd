"""Texture: a UV atlas for one detail level of the mesh, coloured from the undistorted photos.

See :func:`photogrammetry.texturing.texture_mesh` for the steps: UV atlas, per-face view
selection by visible projected area with depth tests (smoothed over neighbouring faces),
exposure levelling, two-band blending across views, masks honoured, colour diffused onto
faces no photo sees, padding against bleeding. Writes ``model.obj`` + ``.mtl`` + ``.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import MeshResult, TextureInfo, load_texture_result, read_mesh, write_obj
from photogrammetry.io.sfm import UndistortResult
from photogrammetry.meshing import load_colmap_views
from photogrammetry.texturing import BlendOptions, TextureOptions, texture_mesh

_SIZES = (256, 512, 1024, 2048, 4096, 8192)


@dataclass(frozen=True, kw_only=True)
class TextureConfig:
    """Settings of the texture stage."""

    level: Literal["preview", "reduced", "medium", "full", "raw"] = "medium"
    """Detail level of the mesh to texture (about 25k / 50k / 100k / 250k triangles, or raw)."""
    texture_size: int = 4096
    """Side of the square texture atlas in pixels: 2048, 4096 or 8192 (256..1024 for previews)."""
    atlas: Literal["charts", "open3d"] = "charts"
    """UV atlas: ``charts`` (fast, any mesh) or ``open3d`` (UVAtlas: less stretch, slow, manifold only)."""
    padding: int = 2
    """Texels kept free around each chart against colour bleeding (the gutters beyond are filled
    with the charts' smoothly extended colours). Measured on the sample scenes: 4 instead of 2
    costs 0.3-0.6 dB of held-out PSNR where texels are scarce (a 512 px atlas for 640 x 480
    photos, as a 4096 px atlas for 20-megapixel photos is) and nothing at 2048 px."""
    smoothness: float = 0.5
    """Weight of agreement between neighbouring faces in the per-face view selection."""
    level_exposure: bool = True
    """Level exposure and white balance across photos with per-photo gains."""
    vignetting: bool = False
    """With ``level_exposure``, fit each camera's radial brightness fall-off from the surface points
    the photos share and remove it (keeping the brightness the photos show the surface with on
    average): for lenses with visible fall-off. Off by default: on the benchmark's held-out views
    it changed PSNR by facade +0.08 dB (fitted corner fall-off 0.78; the photos have 0.7 before
    their tone curve), orbit -0.02, turntable -0.06 (its light turns with the camera), temple 0.00,
    as each held-out photo keeps its own fall-off."""
    selection_boost: float = 0.5
    """Each face's selected photo weighs ``1 + selection_boost`` times its usual weight in the blend
    (held-out PSNR, medium level, against 1.0 with angle_power 2: orbit +0.03 dB, turntable +0.02,
    facade 0.00, temple +0.08; 0 is within 0.03 dB of 0.5)."""
    blend_sigma: float = 0.0
    """Pixels of the Gaussian splitting the bands: detail finer than this comes from each face's
    selected photo only (sharper), coarser colour is blended over all photos; 0 blends everything
    (the most faithful colours in new views)."""
    angle_power: float = 1.0
    """Blending weights grow with cos(viewing angle) to this power; 1 weighs each photo by the
    pixels it gives the surface (its projected area), which predicts new views best."""
    use_masks: bool = True
    """Take colour only inside the photos' object masks, when they have masks."""
    mask_erosion: int = 0
    """Pixels by which the masks are eroded before they give colour: raise it for loose masks
    that take in some background. With tight masks 0 predicts new views best (held-out PSNR,
    medium level, 2 px erosion -> 0: orbit +0.21 dB, temple +0.19 dB, turntable +0.09 dB):
    the blending weights already ramp up from every mask border, so border pixels count only
    where no view sees the surface better."""

    def __post_init__(self) -> None:
        if self.texture_size not in _SIZES:
            raise ConfigError(f"texture.texture_size must be one of {_SIZES}, got {self.texture_size}")
        if not 0 <= self.padding <= 32:
            raise ConfigError(f"texture.padding must be within 0..32, got {self.padding}")
        if not 0 <= self.mask_erosion <= 16:
            raise ConfigError(f"texture.mask_erosion must be within 0..16, got {self.mask_erosion}")
        if min(self.smoothness, self.blend_sigma, self.angle_power, self.selection_boost) < 0:
            raise ConfigError("texture.smoothness, selection_boost, blend_sigma and angle_power must not be negative")


def texture_options(config: TextureConfig, workers: int = 1) -> TextureOptions:
    """The texturing library's options for a stage config (``workers``: threads for the atlas and the blending)."""
    return TextureOptions(size=config.texture_size, atlas=config.atlas, padding=config.padding,
                          smoothness=config.smoothness, level_exposure=config.level_exposure,
                          vignetting=config.vignetting,
                          blend=BlendOptions(low_sigma=config.blend_sigma, angle_power=config.angle_power,
                                             selection_boost=config.selection_boost,
                                             mask_erosion=config.mask_erosion),
                          workers=workers)


def run(config: TextureConfig, ctx: StageContext, *, mesh: MeshResult, undistort: UndistortResult) -> dict[str, Any]:
    """Texture the mesh of ``mesh`` with the photos of ``undistort`` into ``ctx.out``."""
    masks = undistort.root / "masks"
    views = load_colmap_views(undistort.model, undistort.image_dir,
                              masks if config.use_masks and masks.is_dir() else None)
    model = read_mesh(mesh.level_path(config.level))
    ctx.log.info("texturing the %s mesh (%d triangles) from %d photos into a %d px atlas", config.level,
                 len(model.faces), len(views), config.texture_size)
    textured, report = texture_mesh(model, views, texture_options(config, ctx.workers))
    if report.corner_falloff is not None:
        ctx.log.info("vignetting removed: brightness falling to %s of the centre's (image corners, or the "
                     "farthest a surface point was seen from the centre)",
                     ", ".join(f"{100 * v:.0f} %" for v in report.corner_falloff))
    write_obj(ctx.out, textured, name="model")
    info = TextureInfo(units=mesh.info.units, level=config.level, texture_size=config.texture_size,
                       triangles=len(textured.faces), views=report.views_used,
                       unseen_faces=round(report.unseen_faces, 5), seconds=report.seconds)
    write_json(ctx.out / "texture.json", info)
    if report.unseen_faces > 0.05:
        ctx.log.warning("%.0f %% of the faces are seen by no photo; their colour is interpolated",
                        100 * report.unseen_faces)
    return {"triangles": len(textured.faces), "views": report.views_used, "texture_size": config.texture_size}


STAGE = StageSpec(
    name="texture",
    version=3,
    config=TextureConfig,
    run=run,
    load=load_texture_result,
    requires=("mesh", "undistort"),
    outputs={"textured_obj": "model.obj", "texture": "model.png"},
    summary="UV atlas and texture from the photos: view selection, levelling, blending, padding.",
)
