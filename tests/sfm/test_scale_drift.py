"""The scale of a forward walk holds along the path (issue #25, "the cameras").

A video walk straight ahead is where monocular structure from motion drifts in scale: each frame's
depths come from points triangulated by its near neighbours only. On the synthetic walk of
:func:`tests.sfm.rigs.forward_video` (no EXIF, 0.5 px noise, 10 % wrong matches), each view's depth
ratio with our cameras over the true ones (``benchmarks/drift.py``) stays within 1 % of its median.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.drift import measure, spread
from photogrammetry.evaluation import CameraPose, GroundTruth, GTView, PinholeCamera
from tests.sfm.conftest import run_sfm
from tests.sfm.rigs import Rig, forward_video, write_rig
from tests.sfm.synthetic import SyntheticScene


def rig_truth(rig: Rig, names: list[str], source: Path) -> GroundTruth:
    """The rig's cameras as ground truth (principal point at the image centre)."""
    K = np.array([[rig.focal, 0, rig.width / 2], [0, rig.focal, rig.height / 2], [0, 0, 1]])
    views = {n: GTView(name=n, camera=PinholeCamera(K=K, width=rig.width, height=rig.height),
                       pose=CameraPose(R=r, t=t)) for n, r, t in zip(names, rig.rotations, rig.translations)}
    return GroundTruth(views=views, extent=10.0, source=source)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    rig = forward_video()
    folder = tmp_path_factory.mktemp("walk")
    ingest, features, matches = write_rig(rig, folder / "in")
    result = run_sfm(SyntheticScene(ingest=ingest, features=features, matches=matches, truth=None), folder / "out")
    truth = rig_truth(rig, [im.name for im in ingest.images], folder)
    return rig, result, measure(result.model, truth, "walk")


def test_every_view_of_a_forward_walk_keeps_its_depth_scale_within_1_percent(walk):
    rig, result, drift = walk
    assert len(result.summary.registered) == len(rig.rotations)
    assert len(drift.depth_ratio) == len(rig.rotations)
    median, within, largest = spread(drift.depth_ratio)
    assert median == pytest.approx(1.0, abs=0.03)  # the Sim3 fitted on the centres gives the scale
    assert largest <= 0.01, drift.depth_ratio
    assert min(drift.points.values()) >= 20  # each ratio rests on many points


def test_the_walk_s_local_scale_between_neighbours_holds_too(walk):
    _, _, drift = walk
    assert spread(drift.baseline_ratio)[2] <= 0.03, drift.baseline_ratio
    assert max(drift.centre_error.values()) < 0.05  # metres, on a 3 m walk
