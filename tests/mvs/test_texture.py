"""Depths on flat pixels: a uniform sky loses its depths, textured geometry and enclosed flat walls keep theirs
(on given maps, and on a swept scene of a wall before the sky)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.cascade import CascadeOptions
from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.filtering import filter_depth
from photogrammetry.mvs.multiview import compute_depth
from photogrammetry.mvs.scene import MVSScene
from photogrammetry.mvs.texture import dark_and_flat, keep_textured, local_contrast
from photogrammetry.stages.depth import DepthConfig

from .conftest import look_at, plane_depth

SKY_ROWS = 14
"""The reference photo's top rows: a uniform sky (touching the border, no texture above it)."""
WALL = (slice(26, 36), slice(20, 44))
"""A flat patch (a white wall) with texture on every side."""


def photo(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(H, W) uint8 grey: noise texture below a uniform sky, with a flat wall patch in the texture."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(40, 215, shape).astype(np.uint8)
    grey[:SKY_ROWS] = 200
    grey[WALL] = 180
    return grey


def scene(ring_views):
    """The reference, its two sources and every view's depth of one world plane: in the sky too, as a
    smoothing sweep carries the depth of the textured surface below into it, and the sources agree."""
    depths = {v.name: plane_depth(v, [1, 0, 0], -1.5) for v in ring_views}
    ref, sources = ring_views[0], [ring_views[1], ring_views[7]]
    return ref, depths[ref.name], [(s, depths[s.name]) for s in sources]


def test_the_sky_loses_its_depths_and_textured_geometry_and_an_enclosed_wall_keep_theirs(ring_views):
    ref, depth, sources = scene(ring_views)
    confident = np.full_like(depth, 0.9)
    grey = photo(depth.shape)
    before = filter_depth(ref, depth, confident, None, sources, FilterOptions()).depth > 0
    after = filter_depth(ref, depth, confident, None, sources, FilterOptions(), grey=grey).depth > 0
    sky = np.zeros(depth.shape, bool)
    sky[:SKY_ROWS - 3] = True  # the window's radius below the sky's edge still sees texture
    assert before[sky].mean() > 0.5  # the consistency check alone keeps the sky
    assert not after[sky].any()
    textured = before.copy()
    textured[:SKY_ROWS] = False
    assert after[textured].mean() == 1.0  # the wall and the textured plane around it all stay
    assert before[WALL].mean() > 0.5 and after[WALL].all()


def test_a_mask_or_a_zero_minimum_turns_the_check_off(ring_views):
    ref, depth, sources = scene(ring_views)
    confident = np.full_like(depth, 0.9)
    grey = photo(depth.shape)
    before = filter_depth(ref, depth, confident, None, sources, FilterOptions()).depth
    off = filter_depth(ref, depth, confident, None, sources, FilterOptions(min_contrast=0), grey=grey).depth
    assert np.array_equal(before, off)
    mask = np.ones(depth.shape, bool)
    masked = filter_depth(ref, depth, confident, mask, sources, FilterOptions(), grey=grey).depth
    assert np.array_equal(before, masked)


def test_a_flat_pixel_keeps_its_depth_only_where_the_enclosing_depths_imply_it():
    depth = np.full((20, 30), 4.0, np.float32)
    grey = np.random.default_rng(1).integers(0, 255, depth.shape).astype(np.uint8)
    grey[5:15, 10:20] = 128  # flat, textured on every side
    assert keep_textured(depth, grey, 0.01, 1, 0.1).all()
    bumped = depth.copy()
    bumped[8:12, 13:17] = 5.0  # 20 % off the plane the textured sides imply
    kept = keep_textured(bumped, grey, 0.01, 1, 0.1)
    assert not kept[8:12, 13:17].any() and kept[:5].all()
    sky = grey.copy()
    sky[:5] = 128  # a flat band along the top border, reaching down between two textured towers
    sky[:15, 10:20] = 128
    kept = keep_textured(depth, sky, 0.01, 1, 0.1)
    assert not kept[:4].any()  # neither its row nor its column holds texture on both sides
    assert kept[6:15, 12:18].all()  # between the towers: enclosed along the rows


def black(shape: tuple[int, int], seed: int = 4) -> np.ndarray:
    """(H, W) uint8 black background with a sensor's noise: grey 0-2 of 255 (standard deviation about
    0.8 levels, 0.003 of the range, as the temple's), which reads as texture relative to ``DARK``."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.uint8)


def test_a_black_gap_between_textured_columns_loses_the_depth_carried_onto_it():
    depth = np.full((20, 40), 4.0, np.float32)  # the columns' depth, carried over the gap by the window
    grey = np.random.default_rng(1).integers(60, 255, depth.shape).astype(np.uint8)
    grey[:, 15:25] = black((20, 10))
    assert (local_contrast(grey, 1)[:, 17:23] >= 0.01).mean() > 0.5  # the noise reads as texture
    before = keep_textured(depth, grey, 0.01, 1, 0.1)
    assert before[:, 15:25].all()  # textured by its noise, or enclosed by the columns on each side
    after = keep_textured(depth, grey, 0.01, 1, 0.1, dark_grey=0.08, dark_std=0.005)
    assert not after[:, 16:24].any()  # every pixel whose 3x3 neighbourhood is black
    assert after[:, :15].all() and after[:, 25:].all()  # the columns keep theirs
    dim = grey.copy()
    dim[:, 15:25] = np.random.default_rng(5).integers(8, 20, (20, 10))  # dim but textured: not blank
    assert keep_textured(depth, dim, 0.01, 1, 0.1, dark_grey=0.08, dark_std=0.005).all()


def test_the_dark_outline_of_a_bright_object_on_black_loses_the_depth_carried_onto_it():
    depth = np.full((30, 30), 4.0, np.float32)
    grey = black(depth.shape)
    grey[10:20, 10:20] = np.random.default_rng(1).integers(80, 255, (10, 10))
    obj = grey > 60
    outline = np.zeros(depth.shape, bool)  # the object's depth, carried 2 px onto the black around it
    outline[8:22, 8:22] = True
    outline &= ~obj
    touching = outline.copy()  # the pixels beside the object: their 3x3 neighbourhood reaches it
    touching[[8, 21], :] = touching[:, [8, 21]] = False
    carried = np.where(outline | obj, depth, 0)
    assert not dark_and_flat(grey, 0.08, 0.005)[touching].any()
    kept = keep_textured(carried, grey, 0.01, 1, 0.1, dark_grey=0.08, dark_std=0.005)
    assert kept[touching].mean() > 0.5  # without reach: most of the outline keeps the depth
    within = keep_textured(carried, grey, 0.01, 1, 0.1, dark_grey=0.08, dark_std=0.005, dark_reach=2)
    assert not within[outline].any() and within[obj].all()  # the object keeps all of its own


def test_a_grey_standard_deviation_floor_makes_a_noisy_sky_flat():
    depth = np.full((20, 30), 4.0, np.float32)
    grey = np.random.default_rng(1).integers(0, 255, depth.shape).astype(np.uint8)
    grey[:6] = 60 + black((6, 30))  # a deep blue sky: noise of 1 % of its grey, touching the border
    assert keep_textured(depth, grey, 0.01, 1, 0.1)[:3].mean() > 0.5
    assert not keep_textured(depth, grey, 0.01, 1, 0.1, min_grey_std=0.005)[:3].any()


def test_contrast_is_relative_to_the_local_brightness():
    flat = np.full((9, 9), 100, np.uint8)
    assert np.allclose(local_contrast(flat, 2), 0.0)
    pattern = 1 + 0.1 * np.random.default_rng(2).standard_normal((9, 9)).astype(np.float32)
    dark, bright = local_contrast(0.2 * pattern, 2), local_contrast(0.8 * pattern, 2)
    assert np.allclose(dark, bright, rtol=1e-4) and 0.05 < bright[4, 4] < 0.15
    assert np.allclose(local_contrast((200 * pattern).astype(np.uint8), 2), local_contrast(200 * pattern / 255, 2),
                       atol=0.01)


def test_options_are_checked_and_enter_the_depth_key_when_changed():
    with pytest.raises(ConfigError, match="min_contrast"):
        FilterOptions(min_contrast=-1)
    with pytest.raises(ConfigError, match="texture_radius"):
        FilterOptions(texture_radius=0)
    with pytest.raises(ConfigError, match="dark_grey"):
        FilterOptions(dark_std=-0.1)
    with pytest.raises(ConfigError, match="dark_reach"):
        FilterOptions(dark_reach=-1)
    changed = DepthConfig(filtering=FilterOptions(min_contrast=0.02, texture_radius=3, enclosed_tolerance=0.2,
                                                  dark_grey=0.1, dark_std=0.01, min_grey_std=0.004, dark_reach=1))
    keys = output_affecting_settings(changed)
    assert {"filtering.min_contrast", "filtering.texture_radius", "filtering.enclosed_tolerance",
            "filtering.dark_grey", "filtering.dark_std", "filtering.min_grey_std", "filtering.dark_reach"} <= set(keys)


SIZE = (128, 96)
WALL_TOP = 0.4
"""The textured wall ``y = 0``, ``|x| < 2``, ``-3 < z < WALL_TOP``, before a uniform sky."""


def render_wall(view, dark: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(H, W) uint8 grey photo of the wall before the sky (``dark``: before a black background with
    noise, :func:`black`), with a flat patch in the middle of the wall; the true depth (0: sky); the
    flat patch's pixels; (N, 3) world points of the textured wall seen."""
    u, v = np.meshgrid(np.arange(SIZE[0]) + 0.5, np.arange(SIZE[1]) + 0.5)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(view.K).T @ view.R
    along = -view.center[1] / rays[..., 1]
    x, z = (view.center[i] + along * rays[..., i] for i in (0, 2))
    wall = (along > 0) & (np.abs(x) < 2) & (z > -3) & (z < WALL_TOP)
    patch = wall & (np.abs(x) < 0.6) & (z > -1.9) & (z < -0.9)
    rng = np.random.default_rng(3)
    texture = 0.45 + sum(0.07 * np.sin(f[0] * x + f[1] * z + p) for f, p in zip(rng.normal(0, 8, (14, 2)),
                                                                               rng.uniform(0, 6.3, 14)))
    grey = np.where(wall, np.where(patch, 0.6, np.clip(texture, 0, 1)), 0.8)
    seen = wall & ~patch
    points = np.stack([x[seen], np.zeros(seen.sum()), z[seen]], 1)
    grey = (grey * 255).astype(np.uint8)
    if dark:
        grey = np.where(wall, grey, black(grey.shape, seed=int(view.name[1:].split(".")[0])))
    return grey, np.where(wall, along * (rays @ view.R[2]), 0.0), patch, points


@pytest.fixture(scope="module", params=[False, True], ids=["sky", "black"])
def wall_scene(tmp_path_factory, request):
    """Five views of the wall and the sky (or a black background), photos written, sparse points on the
    textured wall (none on the flat patch, as SfM finds none there); true depths, patches."""
    folder = tmp_path_factory.mktemp("wall-black" if request.param else "wall")
    K = np.array([[110.0, 0, SIZE[0] / 2], [0, 110.0, SIZE[1] / 2], [0, 0, 1]])
    views, truth, patches, points = {}, {}, {}, []
    for i, x in enumerate((-0.9, -0.45, 0.0, 0.45, 0.9)):
        view = look_at((x, -5.0, -0.6), (0.3 * x, 0, 0.3), K, SIZE, f"v{i}.png")
        view = replace(view, image_path=folder / view.name)
        grey, truth[view.name], patches[view.name], seen = render_wall(view, request.param)
        cv2.imwrite(str(view.image_path), grey)
        views[view.name] = view
        points.append(seen[::97])
    points = np.concatenate(points)
    observations = {}
    for name, view in views.items():  # the points in front of each view and inside its photo
        cam = points @ view.R.T + view.t
        uv = cam[:, :2] / cam[:, 2:] * K[0, 0] + K[:2, 2]
        observations[name] = np.flatnonzero((cam[:, 2] > 0) & (uv >= 0).all(1) & (uv < SIZE).all(1))
    return MVSScene(views=views, points=points, observations=observations), truth, patches, folder


def kept_shares(scene, truth, patches, out, filtering):
    """Depth maps of the wall scene into ``out``; kept sky pixels more than 3 px from the wall, and the
    kept shares of the wall's and the flat patch's pixels."""
    options = DepthConfig(method="lite", max_image_size=SIZE[0], cascade=CascadeOptions(hypotheses=(32, 8)),
                          filtering=filtering)
    compute_depth(scene, options, out)
    kept = {n: np.load(out / "depth" / f"{n}.npy") > 0 for n in scene.views}
    open_sky = {n: cv2.dilate((t > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) == 0 for n, t in truth.items()}

    def share(region):
        return sum(int((kept[n] & region[n]).sum()) for n in scene.views) / sum(int(r.sum()) for r in region.values())

    sky = sum(int((kept[n] & open_sky[n]).sum()) for n in scene.views)
    return sky, share({n: t > 0 for n, t in truth.items()}), share(patches)


def test_a_swept_scene_gives_no_depth_to_the_sky_or_a_black_background_and_keeps_the_wall(wall_scene):
    """Before a black background the rule of dark flat pixels is needed: its noise reads as texture."""
    scene, truth, patches, folder = wall_scene
    sky_before, wall_before, patch_before = kept_shares(scene, truth, patches, folder / "off",
                                                        FilterOptions(min_contrast=0.0, implied_reach=0, grow_reach=0))
    sky, wall, patch = kept_shares(scene, truth, patches, folder / "on", FilterOptions())
    if folder.name.startswith("wall-black"):  # the noise is texture to the contrast: the dark rule removes it
        assert kept_shares(scene, truth, patches, folder / "bright", FilterOptions(dark_grey=0.0))[0] > 300
    assert sky_before > 300  # the smoothing sweep gives the sky the wall's depth, and the views agree
    assert sky == 0
    assert wall > 0.97 * wall_before and wall > 0.5  # the textured wall keeps its depths ...
    assert patch > 0.9 * patch_before and patch > 0.4  # ... and so does the flat patch it encloses
