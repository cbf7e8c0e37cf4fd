"""All thirteen stages on the facade sample scene, scored against its ground truth.

Six of the twelve photos (every other one) go through ``photogrammetry.run`` with the ``fast``
preset and the depth maps at 320 px; the other six are held out, and the texture is scored in
them. Two ground-truth points marked in the photos give the scale (``points`` method), so the
model comes out in metres and the GLB says so. 80 s to 3 minutes on two CPU cores; the thresholds
sit below the measured values (in the comments) with room for other platforms.

Each check was seen to fail once: ``features.max_keypoints=64`` fails poses (0.28 degree), mesh
and texture; ``depth.min_consistent_views=0`` fails the mesh (precision 0.67) and the texture;
``texture.texture_size=256`` the texture (22.0 dB); ``scale.method=none`` the scale and the units.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap
import pytest

import photogrammetry
from photogrammetry import api
from photogrammetry.engine.runner import RunResult
from photogrammetry.evaluation import EvalReport
from photogrammetry.stages import PIPELINE
from tests.io.gltf_check import check_glb

SCENE = Path(__file__).resolve().parents[1] / "sample_scenes" / "facade"
VIEWS = [f"view_{i:03d}.jpg" for i in range(12)]
TRAINING, HELD_OUT = VIEWS[0::2], VIEWS[1::2]
OVERRIDES = [
    "depth.max_image_size=320",  # 4x fewer pixels than the photos: depth is most of the run time
    "mesh.surface.poisson_depth=8",
    "texture.level=preview",
    "texture.size=1024",
    'export.formats=["glb", "cameras"]',
    "scale.method=points",
]


def marked_points(gt: pycolmap.Reconstruction, names: list[str]) -> tuple[str, float]:
    """A points file marking the two GT points farthest apart among those seen in three of ``names``,
    at their exact pixels in the GT, and their distance in millimetres."""
    seen = []
    for point in gt.points3D.values():
        pixels = [(gt.images[e.image_id].name, gt.images[e.image_id].points2D[e.point2D_idx].xy)
                  for e in point.track.elements if gt.images[e.image_id].name in names]
        if len(pixels) >= 3:
            seen.append((point.xyz, pixels))
    xyz = np.array([s[0] for s in seen])
    a, b = np.unravel_index(np.argmax(np.linalg.norm(xyz[:, None] - xyz[None], axis=2)), (len(xyz),) * 2)
    lines = [f"{label} {name} {x:.3f} {y:.3f}" for label, k in (("A", a), ("B", b)) for name, (x, y) in seen[k][1]]
    return "\n".join(lines) + "\n", float(np.linalg.norm(xyz[a] - xyz[b])) * 1000.0


@dataclass(frozen=True)
class Run:
    """What the checks read."""

    result: RunResult
    report: EvalReport
    glb: Path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("all_stages")
    photos = root / "photos"
    photos.mkdir()
    for name in TRAINING:
        shutil.copy(SCENE / "images" / name, photos / name)
    text, distance_mm = marked_points(pycolmap.Reconstruction(SCENE / "gt" / "sparse"), TRAINING)
    (root / "points.txt").write_text(text, encoding="utf-8")
    overrides = [*OVERRIDES, f"scale.points_file={root / 'points.txt'}", f"scale.distance_mm={distance_mm:.3f}"]
    result = photogrammetry.run(photos, root / "ws", preset="fast", overrides=overrides, device="cpu",
                                workers=2, progress=False)
    report = api.evaluate(root / "ws", SCENE, holdout=HELD_OUT)
    return Run(result, report, root / "ws" / "output" / "model.glb")


def test_all_thirteen_stages_ran(run: Run) -> None:
    assert [s.name for s in run.result.stages] == [s.name for s in PIPELINE]
    assert len(run.result.stages) == 13 and all(s.action == "ran" for s in run.result.stages)


def check_poses(report: EvalReport) -> None:
    poses = report.poses
    assert poses.num_registered == poses.num_gt_images == len(TRAINING)
    assert poses.rotation_error_median_deg < 0.1  # measured 0.018 degree
    assert poses.center_error_median < 5e-4  # of the scene's extent; measured 7e-5
    assert poses.alignment.scale == pytest.approx(1.0, abs=0.02)  # metres; measured 0.999


def check_mesh(report: EvalReport) -> None:
    mesh = report.mesh
    assert mesh.precision[0.005] > 0.95  # within 0.5 % of the extent (10 cm); measured 0.996
    assert mesh.accuracy_median < 0.001  # measured 0.00036
    # recall counts the GT surface the six photos observed; 320 px depth maps miss a part of it
    assert mesh.fscore[0.01] > 0.88  # measured 0.952


def check_texture(report: EvalReport) -> None:
    texture = report.texture
    assert texture.num_views == len(HELD_OUT) and texture.coverage > 0.9
    assert texture.psnr > 25.0  # dB, in the held-out photos; measured 27.1


def test_poses_against_the_ground_truth(run: Run) -> None:
    check_poses(run.report)


def test_mesh_against_the_ground_truth(run: Run) -> None:
    check_mesh(run.report)


def test_texture_in_the_held_out_photos(run: Run) -> None:
    check_texture(run.report)


def test_the_units_reach_the_glb(run: Run) -> None:
    import pygltflib

    assert check_glb(run.glb.read_bytes()) == []
    gltf = pygltflib.GLTF2().load(str(run.glb))
    assert gltf.asset.extras["units"] == "metres"
    export = json.loads((run.glb.parent / "export.json").read_text(encoding="utf-8"))
    assert export["units"] == "metres"


def test_the_published_model_stands_upright(run: Run) -> None:
    """The output folder holds the GLB and the cameras; the GT's up (+Z) is +Y in the GLB, through the
    SfM-to-GT alignment of the cameras (measured 0.1 deg; the cameras alone, looking up at the facade: 9 deg)."""
    output = run.glb.parent
    assert {"model.glb", "export.json", "published.json", "cameras"} <= {p.name for p in output.iterdir()}
    export = json.loads((output / "export.json").read_text(encoding="utf-8"))
    gt_from_ours = run.report.poses.alignment.matrix
    up = (np.asarray(export["glb_from_world"]) @ np.linalg.inv(gt_from_ours))[:3, :3] @ [0.0, 0.0, 1.0]
    assert np.degrees(np.arccos(up[1] / np.linalg.norm(up))) < 2.0


def test_the_report_shows_every_section(run: Run, tmp_path: Path) -> None:
    """``run`` wrote ``report.html`` into the output folder: self-contained, every section computed, every
    picture decoding (6 photos, 6 x 3 depth thumbnails, 2 x 4 views), and it renders in Chromium when there is one."""
    from tests.report.checks import check_report, chromium, open_in_chromium

    path = run.glb.parent / "report.html"
    parsed = check_report(path)
    html = path.read_text(encoding="utf-8")
    assert "Not computed" not in html and "Could not be read" not in html
    assert len(parsed.images) == len(TRAINING) * 4 + 8
    assert path.stat().st_size < 5e6  # measured 1.7 MB
    if chromium() is not None:
        result = open_in_chromium(path, tmp_path)
        assert result.console == [] and result.decoded == len(parsed.images)
