"""The small scenes committed under ``sample_scenes/``, and how to regenerate them bit for bit.

``photogrammetry sample-scene NAME -o DIR`` calls :func:`render_sample_scene`; the
command's choices come from :data:`SAMPLE_SCENES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photogrammetry.synthetic.dataset import render_scene
from photogrammetry.synthetic.rigs import FacadeRig, OrbitRig, TurntableRig
from photogrammetry.synthetic.scenes import SceneSpec
from photogrammetry.synthetic.shapes import ShapeKind, ShapeSpec


@dataclass(frozen=True, kw_only=True)
class SampleScene:
    """A named scene committed to the repository."""

    description: str
    """One-line description (shown by the command line's help)."""
    spec: SceneSpec
    """What to render."""


SAMPLE_SCENES: dict[str, SampleScene] = {
    "turntable": SampleScene(
        description="statue on a turntable, 24 views in one ring at 15 degree steps, static wall and table",
        spec=SceneSpec(
            seed=11,
            rig=TurntableRig(views_per_ring=24, ring_elevations_deg=(20.0,), distance=0.65),
            shape=ShapeSpec(kind=ShapeKind.STATUE, seed=3, height=0.3, detail=4),
            gt_points=200,
        ),
    ),
    "orbit": SampleScene(
        description="camera orbiting a vase in a cluttered room, 18 views at 20 degree steps",
        spec=SceneSpec(
            seed=12,
            rig=OrbitRig(num_views=18, radius=0.8, height=0.45),
            shape=ShapeSpec(kind=ShapeKind.VASE, seed=5, height=0.3, detail=4),
        ),
    ),
    "facade": SampleScene(
        description="camera walking 5.5 m along a two-storey facade with windows and balconies, 12 views",
        spec=SceneSpec(seed=13, rig=FacadeRig(num_views=12, distance=5.0, span=5.5, floors=2)),
    ),
}
"""Registry of the committed sample scenes: name -> spec and description."""


def render_sample_scene(name: str, out_dir: Path) -> Path:
    """Render a committed sample scene; the output equals ``sample_scenes/<name>`` byte for byte.

    Args:
        name: Key of :data:`SAMPLE_SCENES`.
        out_dir: Scene folder to create or replace (see :func:`~photogrammetry.synthetic.dataset.render_scene`).

    Returns:
        ``out_dir``.
    """
    if name not in SAMPLE_SCENES:
        raise ValueError(f"unknown sample scene {name!r}; choose one of {', '.join(SAMPLE_SCENES)}")
    return render_scene(SAMPLE_SCENES[name].spec, Path(out_dir))
