"""Texture atlases from calibrated photos: UV charts, view selection, levelling, blending, padding.

Typical use::

    views = load_colmap_views(model_dir, images_dir, masks_dir)
    textured, report = texture_mesh(mesh, views, TextureOptions(size=4096))
    write_glb(Path("model.glb"), textured, extras={"units": "sfm"}, generator="photogrammetry")

Modules: :mod:`.atlas` (UV atlas, texel rasterisation), :mod:`.charts` (the fast chart atlas),
:mod:`.visibility` (depth tests, per-face quality), :mod:`.selection` (per-face labels),
:mod:`.leveling` (exposure gains and, with :mod:`.vignetting`, the cameras' fall-off),
:mod:`.bake` (two-band blending), :mod:`.fill` (unseen faces, padding), :mod:`.pipeline` (all steps).
open3d is imported inside functions.
"""

from __future__ import annotations

from photogrammetry.texturing.atlas import AtlasMethod, UVAtlas, compute_atlas
from photogrammetry.texturing.bake import BlendOptions
from photogrammetry.texturing.pipeline import TextureOptions, TextureReport, texture_mesh

__all__ = ["AtlasMethod", "BlendOptions", "TextureOptions", "TextureReport", "UVAtlas", "compute_atlas",
           "texture_mesh"]
