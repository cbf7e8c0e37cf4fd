"""Unit tests of the renderer's parts: noise, textures, meshes, shapes, specs, file formats."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from photogrammetry.synthetic import SceneKind, SceneSpec, ShapeKind, ShapeSpec, build_scene, random_scene, render_scene
from photogrammetry.synthetic.dataset import choose_depth_scale
from photogrammetry.synthetic.geometry import Pose, look_at, matmul3, rotate, rotation_axis_angle
from photogrammetry.synthetic.io import load_depth, load_mask, load_normals, write_depth, write_mask, write_normals
from photogrammetry.synthetic.mesh import Mesh, box, cylinder, icosphere, lathe, tube
from photogrammetry.synthetic.noise import fbm, value_noise
from photogrammetry.synthetic.render import Renderer
from photogrammetry.synthetic.rigs import FacadeRig, TurntableRig
from photogrammetry.synthetic.scenes import ShadingSpec
from photogrammetry.synthetic.shapes import make_shape
from photogrammetry.synthetic.texture import TextureSpec, albedo

from .conftest import SMALL_SPECS


def test_value_noise_is_deterministic_smooth_and_seeded() -> None:
    """Same seed, same values in [0, 1]; nearby points are close; another seed gives another field."""
    points = np.random.default_rng(0).uniform(-50, 50, (5000, 3))
    a = value_noise(points, 7)
    assert np.array_equal(a, value_noise(points, 7))
    assert a.min() >= 0.0 and a.max() <= 1.0 and a.std() > 0.1
    assert np.abs(value_noise(points + 1e-4, 7) - a).max() < 1e-2
    assert np.corrcoef(a, value_noise(points, 8))[0, 1] < 0.2
    assert fbm(points, 7, 3).shape == (5000,)


def test_albedo_is_rich_and_a_function_of_position() -> None:
    """A textured plane has strong brightness and colour variation; the same point gets the same colour."""
    u, v = np.meshgrid(np.linspace(0, 0.6, 200), np.linspace(0, 0.6, 200))
    plane = np.stack([u.ravel(), v.ravel(), np.zeros(u.size)], axis=-1)
    spec = TextureSpec(seed=3, feature_size=0.03)
    colour = albedo(plane, spec)
    assert colour.shape == (plane.shape[0], 3) and colour.min() >= 0.0 and colour.max() <= 1.0
    assert colour.mean(axis=1).std() > 0.1, "too little brightness contrast"
    assert np.ptp(colour[:, 0] - colour[:, 2]) > 0.3, "too little colour variation"
    assert np.array_equal(albedo(plane[::-1], spec), colour[::-1])
    assert not np.allclose(albedo(plane, TextureSpec(seed=4, feature_size=0.03)), colour)


def _is_closed(mesh: Mesh) -> bool:
    """Every edge is shared by exactly two triangles, in opposite directions (after welding equal positions)."""
    _, weld = np.unique(mesh.vertices, axis=0, return_inverse=True)
    tris = weld.ravel()[mesh.triangles]
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    n = int(tris.max()) + 1
    keys, counts = np.unique(edges[:, 0] * n + edges[:, 1], return_counts=True)
    reverse = edges[:, 1] * n + edges[:, 0]
    return bool(np.all(counts == 1) and np.isin(reverse, keys).all())


def _volume(mesh: Mesh) -> float:
    """Signed volume (positive when the faces point outward)."""
    a, b, c = (mesh.vertices[mesh.triangles[:, i]] for i in range(3))
    return float(np.sum(a * np.cross(b, c)) / 6.0)


@pytest.mark.parametrize(
    ("mesh", "volume"),
    [
        (box([1.0, 2.0, 3.0]), 6.0),
        (cylinder(1.0, 2.0, 256), 2.0 * np.pi),
        (icosphere(4), 4.0 / 3.0 * np.pi),
        (lathe(np.array([1.0, 0.5, 1.0]), np.array([0.0, 1.0, 2.0]), 256), None),
    ],
)
def test_primitives_are_closed_and_outward(mesh: Mesh, volume: float | None) -> None:
    """Primitives are watertight with outward faces, unit normals and the expected volume."""
    assert _is_closed(mesh)
    assert _volume(mesh) > 0.0
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0)
    if volume is not None:
        assert _volume(mesh) == pytest.approx(volume, rel=0.01)


def test_tube_is_a_closed_torus() -> None:
    """A tube around a circle is closed with the torus's volume."""
    t = np.arange(256) * 2 * np.pi / 256
    circle = np.stack([2 * np.cos(t), 2 * np.sin(t), 0 * t], axis=-1)
    torus = tube(circle, circle, 0.5, 64)
    assert _is_closed(torus)
    assert _volume(torus) == pytest.approx(2 * np.pi**2 * 2 * 0.25, rel=0.01)


@pytest.mark.parametrize("kind", list(ShapeKind))
def test_shapes_stand_on_the_origin_at_their_height(kind: ShapeKind) -> None:
    """Every object has the requested height, stands on z = 0, is centred on the z axis, faces outward."""
    mesh = make_shape(ShapeSpec(kind=kind, seed=5, height=0.25, detail=3))
    lo, hi = mesh.bounds
    assert hi[2] - lo[2] == pytest.approx(0.25, rel=1e-5) and lo[2] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose((lo[:2] + hi[:2]) / 2, 0.0, atol=1e-6)
    assert _volume(mesh) > 0.0
    if kind is not ShapeKind.STATUE:
        assert _is_closed(mesh)


def test_poses_compose_and_invert() -> None:
    """look_at puts the target on the optical axis; compose/inverse are consistent; no-BLAS products are right."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    assert np.allclose(matmul3(a, b), a @ b) and np.allclose(rotate(b, a), b @ a.T)
    pose = look_at(np.array([1.0, -2.0, 0.5]), np.array([0.1, 0.2, 0.3]))
    target_cam = pose.apply(np.array([[0.1, 0.2, 0.3]]))[0]
    assert np.allclose(target_cam[:2], 0.0) and target_cam[2] > 0
    assert pose.apply(pose.center[None])[0] == pytest.approx(np.zeros(3), abs=1e-12)
    other = Pose(rotation_axis_angle(np.array([1.0, 2.0, 3.0]), 0.7), np.array([0.3, -0.2, 0.1]))
    points = rng.normal(size=(10, 3))
    assert np.allclose(pose.compose(other).apply(points), pose.apply(other.apply(points)))
    assert np.allclose(pose.inverse().apply(pose.apply(points)), points)


def test_random_scenes_keep_the_draws_the_mvs_weights_were_trained_on() -> None:
    """Adding a scene kind must not move random_scene's draws: seeds 1000-1079 are lite.pt's training scenes."""
    kinds = [str(random_scene(seed).kind) for seed in range(1000, 1008)]
    assert kinds == ["facade", "orbit", "orbit", "orbit", "facade", "turntable", "orbit", "facade"]


def test_random_scenes_are_varied_and_buildable() -> None:
    """random_scene makes every kind but rooms (random_room_scene's) and every object, with moderate view steps,
    and its scenes build."""
    specs = [random_scene(seed) for seed in range(40)]
    assert {s.kind for s in specs} == set(SceneKind) - {SceneKind.ROOM}
    assert {s.shape.kind for s in specs if s.shape is not None} == set(ShapeKind)
    assert random_scene(3) == random_scene(3)
    for spec in specs[:6]:
        scene = build_scene(spec)
        assert len(scene.views) >= 8 and len(scene.parts) >= 2
    for spec in specs:
        if isinstance(spec.rig, TurntableRig):
            assert 360.0 / spec.rig.views_per_ring <= 20.0


def test_spec_requires_an_object_exactly_for_object_scenes() -> None:
    """A facade takes no object; a turntable needs one."""
    with pytest.raises(ValueError):
        SceneSpec(seed=0, rig=TurntableRig())
    with pytest.raises(ValueError):
        SceneSpec(seed=0, rig=FacadeRig(), shape=ShapeSpec(kind=ShapeKind.VASE, seed=0))


def test_depth_scale_is_a_round_step_that_fits() -> None:
    """The depth step is from the 1-2-5 series, fits 16 bits and resolves 1e-4 of the extent."""
    assert choose_depth_scale(1.0, 0.7) == 1e-4
    assert choose_depth_scale(30.0, 1.0) == 5e-4
    for max_depth, extent in ((0.9, 0.73), (7.3, 20.0), (120.0, 3.0)):
        step = choose_depth_scale(max_depth, extent)
        assert max_depth / step <= 65535 and step >= extent * 1e-4
        assert step <= 2.5 * max(max_depth / 65535, extent * 1e-4)


def test_gt_maps_round_trip(tmp_path: Path) -> None:
    """Depth (to half a step), normals (to 8 bits) and masks survive writing and reading."""
    rng = np.random.default_rng(2)
    depth = rng.uniform(0.5, 6.0, (12, 16))
    depth[0, :] = 0.0
    write_depth(tmp_path / "d.png", depth, 1e-4)
    assert np.abs(load_depth(tmp_path / "d.png", 1e-4) - depth).max() <= 0.5e-4 + 1e-6
    with pytest.raises(ValueError):
        write_depth(tmp_path / "far.png", depth * 100.0, 1e-4)
    normals = rng.normal(size=(12, 16, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    normals[0, :] = 0.0
    write_normals(tmp_path / "n.png", normals)
    back = load_normals(tmp_path / "n.png")
    assert np.all(back[0] == 0.0) and np.degrees(np.arccos(np.sum(back[1:] * normals[1:], -1).min())) < 1.0
    mask = rng.random((12, 16)) > 0.5
    write_mask(tmp_path / "m.png", mask)
    assert np.array_equal(load_mask(tmp_path / "m.png"), mask)


def test_render_scene_will_not_overwrite_other_folders(tmp_path: Path) -> None:
    """A non-empty folder that is not a rendered scene is left alone."""
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        render_scene(random_scene(0), tmp_path / "precious")
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_supersampling_changes_the_image_but_not_the_ground_truth() -> None:
    """With 2x2 samples per pixel the image is a close, smoother variant; depth, normals and mask are unchanged."""
    spec = SMALL_SPECS["turntable"]
    single = Renderer(build_scene(spec)).render(1)
    spec = dataclasses.replace(spec, shading=ShadingSpec(supersample=2))
    double = Renderer(build_scene(spec)).render(1)
    assert np.array_equal(single.depth, double.depth) and np.array_equal(single.mask, double.mask)
    assert np.array_equal(single.normals, double.normals)
    difference = np.abs(single.image.astype(int) - double.image.astype(int))
    assert 0 < difference.mean() < 20
    with pytest.raises(ValueError):
        ShadingSpec(lens_blur=0.7)
