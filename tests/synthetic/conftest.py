"""Small rendered scenes (160x120, a few views) shared by the synthetic-renderer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from photogrammetry.synthetic import (
    CameraSpec,
    FacadeRig,
    OrbitRig,
    RoomRig,
    SceneSpec,
    ShapeKind,
    ShapeSpec,
    TurntableRig,
    render_scene,
)

SMALL_CAMERA = CameraSpec(width=160, height=120, focal_35mm=30.0)

SMALL_SPECS = {
    "turntable": SceneSpec(
        seed=21,
        rig=TurntableRig(views_per_ring=6, ring_elevations_deg=(15.0, 40.0), distance=0.7),
        shape=ShapeSpec(kind=ShapeKind.BUMPY_SPHERE, seed=2, height=0.3, detail=3),
        camera=SMALL_CAMERA,
        gt_points=80,
    ),
    "orbit": SceneSpec(
        seed=22,
        rig=OrbitRig(num_views=5, num_clutter=4),
        shape=ShapeSpec(kind=ShapeKind.VASE, seed=4, height=0.3, detail=3),
        camera=SMALL_CAMERA,
        gt_points=80,
    ),
    "facade": SceneSpec(seed=23, rig=FacadeRig(num_views=4, floors=2, bays=4), camera=SMALL_CAMERA, gt_points=80),
    "room": SceneSpec(seed=24, rig=RoomRig(num_views=4, num_furniture=4), camera=SMALL_CAMERA, gt_points=80),
}
"""One small spec per scene kind."""


@pytest.fixture(scope="session")
def small_scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every small spec rendered once per session: kind -> scene folder."""
    root = tmp_path_factory.mktemp("synthetic_scenes")
    return {kind: render_scene(spec, root / kind) for kind, spec in SMALL_SPECS.items()}


@pytest.fixture(params=sorted(SMALL_SPECS))
def small_scene(request: pytest.FixtureRequest, small_scenes: dict[str, Path]) -> Path:
    """Each small scene in turn."""
    return small_scenes[request.param]
