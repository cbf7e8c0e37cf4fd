"""The stages of the pipeline, in order: the one registry the CLI and presets are built from.

Each stage is a module exposing ``STAGE``, a :class:`~photogrammetry.engine.stage.StageSpec`.
Heavy libraries (torch, kornia, open3d, pycolmap) are imported inside the functions that use
them, so that ``photogrammetry status`` and ``--help`` stay fast.
"""

from __future__ import annotations

from photogrammetry.engine.stage import StageSpec
from photogrammetry.stages import (depth, export, features, fusion, ingest, masks, matches, mesh, pairs, scale, sfm,
                                   texture, undistort)

PIPELINE: tuple[StageSpec, ...] = (ingest.STAGE, masks.STAGE, features.STAGE, pairs.STAGE, matches.STAGE, sfm.STAGE,
                                   scale.STAGE, undistort.STAGE, depth.STAGE, fusion.STAGE, mesh.STAGE, texture.STAGE,
                                   export.STAGE)
"""All stages, in the order they run."""


def stage_names() -> tuple[str, ...]:
    """Names of the stages, in order."""
    return tuple(spec.name for spec in PIPELINE)
