"""End to end: a sphere textured from eight photos, rendered into views it was not textured from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.texture_metrics import psnr
from photogrammetry.evaluation.texture_render import MeshPart, TexturedMesh, render_colors
from photogrammetry.io.mesh import TexturedMeshData
from photogrammetry.meshing.views import CameraView
from photogrammetry.texturing import BlendOptions, TextureOptions, texture_mesh
from photogrammetry.texturing import bake as blending

from .scene import Capture, render, ring, sphere

OPTIONS = TextureOptions(size=512, padding=2)


def rendered(textured: TexturedMeshData, view: CameraView) -> tuple[np.ndarray, np.ndarray]:
    """The textured mesh rendered into ``view`` by the evaluation's renderer: (H, W, 3), hit mask."""
    part = MeshPart(vertices=textured.vertices, faces=textured.faces, uv=textured.uv,
                    texture=textured.texture.astype(np.float32) / 255.0)
    return render_colors(TexturedMesh(parts=(part,)), PinholeCamera(K=view.K, width=view.width, height=view.height),
                         CameraPose(R=view.R, t=view.t))


@pytest.fixture(scope="module")
def novel_views(tmp_path_factory: pytest.TempPathFactory) -> list[CameraView]:
    """Two views between the ring's cameras, higher up."""
    return render(sphere(subdivisions=3), ring(2, height=2.0, offset=0.3), tmp_path_factory.mktemp("novel"))


@pytest.fixture(scope="module")
def textured(capture: Capture) -> TexturedMeshData:
    return texture_mesh(capture.mesh, capture.views, OPTIONS)[0]


def test_novel_views_match_the_photos(textured: TexturedMeshData, novel_views: list[CameraView]) -> None:
    for view in novel_views:
        image, hit = rendered(textured, view)
        photo = view.read_image().astype(np.float32) / 255.0
        assert hit.mean() > 0.15
        assert psnr(image, photo, hit) > 30.0


def test_texture_has_no_black_texels(textured: TexturedMeshData) -> None:
    assert textured.texture.shape == (512, 512, 3)
    assert textured.texture.reshape(-1, 3).max(axis=1).min() > 5  # padding and unseen faces filled
    assert np.all((textured.uv >= 0) & (textured.uv <= 1))


def test_report_counts_views_and_unseen_faces(capture: Capture) -> None:
    steps: list[str] = []
    _, report = texture_mesh(capture.mesh, capture.views[:2], TextureOptions(size=256, padding=2),
                             on_step=steps.append)
    assert steps == ["view selection", "exposure levelling", "blending", "padding"]  # for the heartbeat
    assert 0.2 < report.unseen_faces < 0.8  # two cameras see only part of the sphere
    assert report.views_used == 2
    assert report.gains.shape == (2, 3)
    assert set(report.seconds) == {"atlas", "selection", "leveling", "blending", "padding"}


def test_exposure_differences_are_levelled(tmp_path: Path, novel_views: list[CameraView]) -> None:
    mesh = sphere(subdivisions=3)
    gains = [1.0, 0.7, 1.0, 0.7, 1.0, 0.7, 1.0, 0.7]
    views = render(mesh, ring(8), tmp_path, gains=gains)
    options = TextureOptions(size=512, padding=2, blend=BlendOptions(low_sigma=2.0))
    _, report = texture_mesh(mesh, views, options)
    ratio = report.gains[0] / report.gains[1]
    np.testing.assert_allclose(ratio, 0.7, atol=0.05)


def test_masks_keep_background_colour_out(capture: Capture, tmp_path: Path) -> None:
    """A view whose mask excludes everything contributes no colour: the result is unchanged
    when that view's photo is replaced by noise."""
    import cv2

    noisy, empty = tmp_path / "noise.png", tmp_path / "mask.png"
    cv2.imwrite(str(noisy), np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    cv2.imwrite(str(empty), np.zeros((120, 160), np.uint8))
    first = capture.views[0]
    masked = CameraView(name=first.name, K=first.K, R=first.R, t=first.t, width=first.width, height=first.height,
                        image_path=noisy, mask_path=empty)
    options = TextureOptions(size=256, padding=2, level_exposure=False)
    with_noise = texture_mesh(capture.mesh, [masked, *capture.views[1:]], options)[0]
    without = texture_mesh(capture.mesh, capture.views[1:], options)[0]
    difference = np.abs(with_noise.texture.astype(int) - without.texture.astype(int))
    assert np.percentile(difference, 99) <= 2


def test_no_views_is_an_error(capture: Capture) -> None:
    with pytest.raises(InputError, match="at least one photo"):
        texture_mesh(capture.mesh, [], OPTIONS)


def test_cameras_that_see_nothing_are_an_error(capture: Capture) -> None:
    view = capture.views[0]
    away = CameraView(name=view.name, K=view.K, R=-view.R, t=view.t, width=view.width, height=view.height,
                      image_path=view.image_path)
    with pytest.raises(InputError, match="no photo sees the mesh"):
        texture_mesh(capture.mesh, [away], OPTIONS)


def _novel_psnr(textured: TexturedMeshData, views: list[CameraView],
                region_of: list[CameraView] | None = None) -> float:
    """Mean PSNR of ``textured`` in ``views`` over the pixels the mesh covers (or, with
    ``region_of``, over the pixels those views' photos show the object: value above the background)."""
    values = []
    for index, view in enumerate(views):
        image, hit = rendered(textured, view)
        photo = view.read_image().astype(np.float32) / 255.0
        region = hit if region_of is None else region_of[index].read_image().max(axis=2) > 20
        values.append(psnr(image, photo, region))
    return float(np.mean(values))


def test_blending_predicts_new_views_better_than_one_photo(tmp_path: Path, novel_views: list[CameraView]) -> None:
    """With noisy photos, the weighted blend of every view that sees a point predicts views it was
    not made from better than the colour of each face's single selected photo."""
    mesh = sphere(subdivisions=3)
    views = render(mesh, ring(8), tmp_path, noise=0.04)
    scores = {}
    for boost in (0.0, 1e4):  # 1e4: the selected photo alone
        options = TextureOptions(size=512, padding=2, blend=BlendOptions(selection_boost=boost))
        scores[boost] = _novel_psnr(texture_mesh(mesh, views, options)[0], novel_views)
    assert scores[0.0] > scores[1e4] + 1.5


@pytest.mark.parametrize("low_sigma", [0.0, 1.5])
def test_chunked_threaded_blending_matches_one_pass(capture: Capture, monkeypatch: pytest.MonkeyPatch,
                                                     low_sigma: float) -> None:
    """Texels projected in many small chunks on two threads get exactly the colours of one pass."""
    options = TextureOptions(size=256, padding=2, blend=BlendOptions(low_sigma=low_sigma))
    whole = texture_mesh(capture.mesh, capture.views, options)[0].texture
    monkeypatch.setattr(blending, "_CHUNK", 997)
    chunked = texture_mesh(capture.mesh, capture.views, options, workers=2)[0].texture
    np.testing.assert_array_equal(chunked, whole)


def test_eroded_masks_keep_background_out(tmp_path: Path, novel_views: list[CameraView]) -> None:
    """A mesh a little larger than the object and loose masks (2 px wider than the object): the
    photos' red background reaches the texture along the silhouettes unless the masks are eroded."""
    views = render(sphere(subdivisions=3), ring(8), tmp_path, background=(1.0, 0.0, 0.0), mask_dilation=2)
    larger = sphere(radius=1.05, subdivisions=3)
    red = {}
    for erosion in (0, 4):
        options = TextureOptions(size=512, padding=2, level_exposure=False,
                                 blend=BlendOptions(mask_erosion=erosion))
        texture = texture_mesh(larger, views, options)[0].texture.astype(int)
        red[erosion] = np.mean(texture[..., 0] - texture[..., 1:].max(axis=2) > 100)  # red texels
    assert red[0] > 0.1 and red[4] < 0.3 * red[0]


def test_vignetting_is_removed_from_the_texture(tmp_path: Path) -> None:
    """Photos darkened towards their corners: with the fall-off fitted and removed, a new view
    without vignetting sees the sphere uniformly as much darker or brighter than its photo
    (no blotches where the blended photos saw a point near their corners)."""
    mesh = sphere(subdivisions=6)
    views = render(mesh, ring(8, radius=2.6), tmp_path / "train", vignetting=0.4)
    novel = render(mesh, ring(2, radius=2.6, height=2.0, offset=0.3), tmp_path / "novel")
    spread = {}
    for vignetting in (False, True):
        textured = texture_mesh(mesh, views, TextureOptions(size=512, padding=2, vignetting=vignetting))[0]
        ratios = []
        for view in novel:
            image, hit = rendered(textured, view)
            photo = view.read_image().astype(np.float32) / 255.0
            region = hit & (photo.min(axis=2) > 0.1)
            ratios.append(image[region] / photo[region])
        ratio = np.concatenate(ratios)
        spread[vignetting] = float(np.std(ratio) / np.mean(ratio))
    assert spread[True] < 0.7 * spread[False]
