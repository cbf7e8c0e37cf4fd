"""The mesh, texture and export stages run one after the other on a small synthetic capture."""

from __future__ import annotations

import inspect
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from photogrammetry.engine.stage import StageContext
from photogrammetry.errors import ConfigError
from photogrammetry.io.fusion import FusionResult, FusionSummary
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.export import ExportResult, load_export_result
from photogrammetry.io.mesh import (
    MeshData,
    MeshResult,
    TextureResult,
    load_mesh_result,
    load_texture_result,
    write_ply,
)
from photogrammetry.io.obj import read_obj
from photogrammetry.io.undistort import UndistortResult, load_undistort, save_undistort
from photogrammetry.meshing import SurfaceOptions
from photogrammetry.meshing.crop import CropOptions
from photogrammetry.meshing.views import CameraView
from photogrammetry.stages import export, mesh, texture
from photogrammetry.texturing import BlendOptions
from photogrammetry.io.scale import ScaleInfo, ScaleResult
from tests.export.artifacts import ingest_of
from tests.io.gltf_check import check_glb
from tests.meshing.conftest import sphere_cloud
from tests.texturing.scene import render, ring, sphere


def write_colmap(folder: Path, views: list[CameraView]) -> None:
    """A PINHOLE COLMAP text model of ``views`` with a handful of 3D points on the unit sphere."""
    folder.mkdir(parents=True)
    K = views[0].K
    (folder / "cameras.txt").write_text(f"1 PINHOLE {views[0].width} {views[0].height} {K[0, 0]} {K[1, 1]} "
                                        f"{K[0, 2]} {K[1, 2]}\n")
    lines = []
    for i, view in enumerate(views, start=1):
        x, y, z, w = Rotation.from_matrix(view.R).as_quat()
        lines += [f"{i} {w} {x} {y} {z} {view.t[0]} {view.t[1]} {view.t[2]} 1 {view.name}", ""]
    (folder / "images.txt").write_text("\n".join(lines) + "\n")
    points = sphere_cloud(20).points
    (folder / "points3D.txt").write_text("".join(f"{i} {p[0]} {p[1]} {p[2]} 128 128 128 0.5\n"
                                                 for i, p in enumerate(points, start=1)))


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> tuple[FusionResult, UndistortResult]:
    """An undistort artifact (photos of the patterned sphere) and a fusion artifact (its points)."""
    root = tmp_path_factory.mktemp("upstream")
    views = render(sphere(subdivisions=5), ring(8, height=1.5), root / "undistort" / "images")
    write_colmap(root / "undistort" / "sparse", views)
    save_undistort(root / "undistort", tuple(v.name for v in views), units="sfm")
    cloud = sphere_cloud(20_000, noise=0.003)
    (root / "fusion").mkdir()
    write_ply(root / "fusion" / "fused.ply", MeshData(vertices=cloud.points, faces=np.zeros((0, 3)),
                                                      normals=cloud.normals, colors=cloud.colors))
    summary = FusionSummary(method="points", points=len(cloud), voxel_size=0.01)
    write_json(root / "fusion" / "fusion.json", summary)
    return FusionResult(root=root / "fusion", summary=summary), load_undistort(root / "undistort")


def context(name: str, root: Path) -> StageContext:
    (root / name).mkdir(parents=True, exist_ok=True)
    return StageContext(name=name, out=root / name, photos=root, workers=1, progress=False)


@pytest.fixture(scope="module")
def outputs(upstream: tuple[FusionResult, UndistortResult],
            tmp_path_factory: pytest.TempPathFactory) -> tuple[MeshResult, TextureResult, ExportResult]:
    fusion, undistort = upstream
    root = tmp_path_factory.mktemp("stages")
    counts = mesh.run(mesh.MeshConfig(), context("mesh", root), fusion=fusion, undistort=undistort)
    assert counts["triangles"] > 1000
    meshed = load_mesh_result(root / "mesh")
    texture.run(texture.TextureConfig(level="reduced", levels=("preview", "raw"), size=512), context("texture", root),
                mesh=meshed, undistort=undistort)
    textured = load_texture_result(root / "texture")
    export.run(export.ExportConfig(), context("export", root), **export_inputs(upstream, textured))
    return meshed, textured, load_export_result(root / "export")


def export_inputs(upstream: tuple[FusionResult, UndistortResult], textured: TextureResult) -> dict[str, object]:
    """The export stage's inputs: the undistorted cameras stand for the scale stage's model."""
    fusion, undistort = upstream
    scale = ScaleResult(undistort.root / "scale", ScaleInfo(method="none", units="sfm", scale=1.0,
                                                             relative_uncertainty=None, samples=0))
    if not scale.model.exists():
        shutil.copytree(undistort.model, scale.model)
    return {"ingest": ingest_of(undistort.image_dir.parent, list(undistort.images)), "scale": scale,
            "fusion": fusion, "texture": textured, "masks": None, "depth": None}


def test_mesh_stage_writes_every_level(outputs: tuple[MeshResult, TextureResult, ExportResult]) -> None:
    meshed = outputs[0]
    assert meshed.info.units == "sfm" and meshed.info.method == "poisson"
    assert set(meshed.info.triangles) == {"preview", "reduced", "medium", "full", "raw"}
    for level, count in meshed.info.triangles.items():
        assert meshed.level_path(level).is_file()
        assert count <= {"preview": 25_000, "reduced": 50_000}.get(level, 10**9)
    assert meshed.info.bbox is not None  # no masks: cropped to the SfM points' box
    with pytest.raises(ValueError, match="unknown detail level"):
        meshed.level_path("huge")


def fusion_of(root: Path, count: int, units: str | None = "sfm") -> FusionResult:
    """A fusion artifact in ``root`` holding ``count`` points of the unit sphere."""
    cloud = sphere_cloud(count, noise=0.003)
    root.mkdir(parents=True)
    write_ply(root / "fused.ply", MeshData(vertices=cloud.points, faces=np.zeros((0, 3)), normals=cloud.normals,
                                           colors=cloud.colors))
    summary = FusionSummary(method="points", points=count, voxel_size=0.01, units=units)
    write_json(root / "fusion.json", summary)
    return FusionResult(root=root, summary=summary)


def test_the_mesh_stage_takes_the_units_of_the_fused_cloud(upstream: tuple[FusionResult, UndistortResult],
                                                           tmp_path: Path) -> None:
    """The fusion artifact's units; one written before it recorded them has its undistort artifact's."""
    undistort = upstream[1]
    assert mesh.upstream_inputs(fusion_of(tmp_path / "a", 10, "metres"), undistort)[-1] == "metres"
    metric = UndistortResult(root=undistort.root, images=undistort.images, units="metres")
    assert mesh.upstream_inputs(fusion_of(tmp_path / "b", 10, None), metric)[-1] == "metres"
    assert mesh.upstream_inputs(fusion_of(tmp_path / "c", 10, None), undistort)[-1] == "sfm"


@pytest.mark.parametrize(("count", "warned"), [(1_000, True), (2_000, False)])
def test_mesh_stage_warns_about_a_sparse_cloud(upstream: tuple[FusionResult, UndistortResult], tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture, count: int, warned: bool) -> None:
    """Eight photos of 160 x 120 px: 1,000 points are 0.65 % of their pixels (warned), 2,000 are 1.3 %."""
    with caplog.at_level(logging.WARNING):
        mesh.run(mesh.MeshConfig(), context("mesh", tmp_path), fusion=fusion_of(tmp_path / "fusion", count),
                 undistort=upstream[1])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("fused cloud is sparse" in w and f"{count} points for 8 photos" in w for w in warnings) == warned


def test_texture_stage_writes_a_textured_obj(outputs: tuple[MeshResult, TextureResult, ExportResult]) -> None:
    textured = outputs[1]
    model = read_obj(textured.obj_path)
    assert model.texture.shape == (512, 512, 3)
    assert textured.info.level == "reduced" and textured.info.views == 8
    assert textured.info.triangles == len(model.faces) == outputs[0].info.triangles["reduced"]


def test_texture_stage_textures_further_levels_with_normal_maps(
        outputs: tuple[MeshResult, TextureResult, ExportResult]) -> None:
    meshed, textured, _ = outputs
    assert textured.info.levels == {"preview": meshed.info.triangles["preview"], "raw": meshed.info.triangles["raw"]}
    assert textured.info.normal_map
    assert read_obj(textured.obj_path).normal_map.shape == (512, 512, 3)
    preview = read_obj(textured.level_obj_path("preview"))
    assert len(preview.faces) == meshed.info.triangles["preview"] and preview.normal_map is not None
    assert read_obj(textured.level_obj_path("raw")).normal_map is None  # the raw mesh is its own detail


def test_export_stage_writes_each_textured_level(outputs: tuple[MeshResult, TextureResult, ExportResult]) -> None:
    from tests.io.gltf_check import split_glb

    exported = outputs[2]
    for level in ("preview", "raw"):
        data = exported.path(f"{level}_glb").read_bytes()
        assert check_glb(data) == [] and exported.path(f"{level}_glb").parent.name == level
        material = split_glb(data)[0]["materials"][0]
        assert ("normalTexture" in material) == (level != "raw")
        assert read_obj(exported.path(f"{level}_obj")).texture.shape == (512, 512, 3)


def test_export_stage_writes_glb_obj_ply(outputs: tuple[MeshResult, TextureResult, ExportResult]) -> None:
    exported = outputs[2]
    assert {f for f in exported.info.files if "_" not in f} == {"glb", "obj", "ply", "cameras"}
    assert check_glb(exported.path("glb").read_bytes()) == []
    assert read_obj(exported.path("obj")).texture.shape == (512, 512, 3)
    assert exported.path("ply").stat().st_size > 1000
    assert exported.info.units == "normalised" and exported.info.up_source == "cameras"


def test_export_stage_logs_the_units(upstream: tuple[FusionResult, UndistortResult],
                                     outputs: tuple[MeshResult, TextureResult, ExportResult], tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        export.run(export.ExportConfig(formats=("glb",), image_format="jpeg", frame=export.FrameOptions(size=0)),
                   context("export", tmp_path), **export_inputs(upstream, outputs[1]))
    assert "SfM units" in caplog.text
    assert check_glb((tmp_path / "export" / "model.glb").read_bytes()) == []
    assert not (tmp_path / "export" / "model.ply").exists()


@pytest.mark.parametrize(("stage", "options"), [
    (mesh.MeshConfig, {"method": "marching"}), (SurfaceOptions, {"density_quantile": 0.7}),
    (CropOptions, {"mask_tolerance": 1.5}), (CropOptions, {"mask_pull": -1.0}),
    (texture.TextureConfig, {"size": 3000}), (texture.TextureConfig, {"levels": ("huge",)}),
    (BlendOptions, {"low_sigma": -1.0}),
    (export.ExportConfig, {"formats": ("fbx",)}), (export.ExportConfig, {"jpeg_quality": 10})])
def test_configs_reject_bad_values(stage: type, options: dict) -> None:
    with pytest.raises(ConfigError):
        stage(**options)


def test_stages_write_the_outputs_they_name_and_take_what_they_require(
        outputs: tuple[MeshResult, TextureResult, ExportResult]) -> None:
    for stage, result in zip((mesh, texture, export), outputs, strict=True):
        spec = stage.STAGE
        assert spec.outputs and [o for o in spec.outputs.values() if not (result.root / o).exists()] == []
        keyword_only = [n for n, p in inspect.signature(spec.run).parameters.items() if p.kind is p.KEYWORD_ONLY]
        assert tuple(keyword_only) == spec.requires, spec.name


def test_texture_levels_match_the_mesh_levels() -> None:
    import typing

    from photogrammetry.io.mesh import LEVEL_NAMES

    assert typing.get_args(typing.get_type_hints(texture.TextureConfig)["level"]) == LEVEL_NAMES


@pytest.mark.parametrize(("image_format", "magic"), [("png", b"\x89PNG"), ("jpeg", b"\xff\xd8\xff")])
def test_the_ply_names_the_texture_file_written(upstream: tuple[FusionResult, UndistortResult],
                                                outputs: tuple[MeshResult, TextureResult, ExportResult],
                                                tmp_path: Path, image_format: str, magic: bytes) -> None:
    import trimesh

    export.run(export.ExportConfig(formats=("obj", "ply"), image_format=image_format), context("export", tmp_path),
               **export_inputs(upstream, outputs[1]))
    ply = tmp_path / "export" / "model.ply"
    header = ply.read_bytes().split(b"end_header", 1)[0].decode("ascii")
    named = [line.split(maxsplit=2)[2] for line in header.splitlines() if line.startswith("comment TextureFile")]
    assert len(named) == 1 and (ply.parent / named[0]).read_bytes().startswith(magic)
    loaded = trimesh.load(ply, process=False)  # a loader that follows TextureFile, relative to the PLY
    assert loaded.visual.kind == "texture" and loaded.visual.material.image.size == (512, 512)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_mesh_and_texture_give_the_same_bytes_twice(upstream: tuple[FusionResult, UndistortResult],
                                                    tmp_path: Path) -> None:
    """Every file, the JSON records included (no timings in them), from one fused cloud and settings."""
    fusion, undistort = fusion_of(tmp_path / "fusion", 3_000), upstream[1]
    for run in ("a", "b"):
        mesh.run(mesh.MeshConfig(), context("mesh", tmp_path / run), fusion=fusion, undistort=undistort)
        texture.run(texture.TextureConfig(level="preview", size=256), context("texture", tmp_path / run),
                    mesh=load_mesh_result(tmp_path / run / "mesh"), undistort=undistort)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert {"mesh/mesh.json", "texture/texture.json", "texture/model.png"} <= set(first)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
