"""Export: the textured model as one GLB (texture embedded), OBJ + MTL + texture, and PLY.

The GLB is glTF 2.0 with one PBR material (the texture as base colour, no dimming factor,
not metallic, fully rough); its ``asset.extras`` state the units (``metres`` when the scale
is known, else ``sfm``), the generator and the triangle count. Vertices stay in the
reconstruction's frame, so the model lines up with the cameras.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, Literal

from photogrammetry._version import __version__
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError
from photogrammetry.io.gltf import write_glb
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import (
    ExportInfo,
    TextureResult,
    load_export_result,
    obj_texture_name,
    read_obj,
    write_obj,
    write_textured_ply,
)

_FORMATS = ("glb", "obj", "ply")
_UNIT_WORDS = {"metres": "metres", "sfm": "SfM units (the scale is unknown)"}


@dataclass(frozen=True, kw_only=True)
class ExportConfig:
    """Settings of the export stage."""

    formats: tuple[str, ...] = _FORMATS
    """Files to write: any of ``glb`` (one file, texture embedded), ``obj`` (+ MTL + texture), ``ply``."""
    image_format: Literal["png", "jpeg"] = "png"
    """Encoding of the texture in the GLB and beside the OBJ: ``png`` (lossless) or ``jpeg`` (smaller)."""
    jpeg_quality: int = 90
    """Quality of JPEG textures (50..100)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(_FORMATS))
        if unknown or not self.formats:
            raise ConfigError(f"export.formats must be a non-empty list of {', '.join(_FORMATS)}; got {self.formats}")
        if not 50 <= self.jpeg_quality <= 100:
            raise ConfigError(f"export.jpeg_quality must be within 50..100, got {self.jpeg_quality}")


def run(config: ExportConfig, ctx: StageContext, *, texture: TextureResult) -> dict[str, Any]:
    """Write the textured model of ``texture`` in the configured formats into ``ctx.out``."""
    model = read_obj(texture.obj_path)
    units = texture.info.units
    files: dict[str, str] = {}
    if "glb" in config.formats:
        extras = {"units": units, "units_description": _UNIT_WORDS[units], "triangles": len(model.faces),
                  "detail_level": texture.info.level}
        write_glb(ctx.out / "model.glb", model, extras=extras, generator=f"photogrammetry {__version__}",
                  image_format=config.image_format, jpeg_quality=config.jpeg_quality)
        files["glb"] = "model.glb"
    if "obj" in config.formats:
        if config.image_format == "png":  # the texture stage's files are already what is asked for
            for name in ("model.obj", "model.mtl", "model.png"):
                (ctx.out / "obj").mkdir(exist_ok=True)
                shutil.copyfile(texture.root / name, ctx.out / "obj" / name)
        else:
            write_obj(ctx.out / "obj", model, name="model", image_format="jpeg")
        files["obj"] = "obj/model.obj"
    if "ply" in config.formats:
        texture_file = f"obj/{obj_texture_name('model', config.image_format)}" if "obj" in files else None
        write_textured_ply(ctx.out / "model.ply", model, texture_file=texture_file)  # the texture written above
        files["ply"] = "model.ply"
    write_json(ctx.out / "export.json", ExportInfo(units=units, files=files, triangles=len(model.faces)))
    ctx.log.info("exported %s in %s", ", ".join(files), _UNIT_WORDS[units])
    return {"triangles": len(model.faces), "files": len(files)}


STAGE = StageSpec(
    name="export",
    version=2,  # 2: the PLY names the texture file written (obj/model.jpg with image_format=jpeg)
    config=ExportConfig,
    run=run,
    load=load_export_result,
    requires=("texture",),
    outputs={"textured_model": "model.glb", "obj": "obj/model.obj", "ply": "model.ply"},
    summary="Textured model as GLB (embedded texture, units in metadata), OBJ + MTL + texture, PLY.",
)
