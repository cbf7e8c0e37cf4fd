"""Evaluation against ground truth: GT loaders, pose / depth / geometry / texture metrics.

Typical use::

    gt = load_ground_truth(Path("sample_scenes/temple"))
    report = evaluate(Estimate(sparse_model=Path("ws/sfm/abc/model")), gt)
    print(report.format_table())

Modules: :mod:`.ground_truth` (types), :mod:`.loaders` (formats), :mod:`.raycast` (GT depth),
:mod:`.pose_metrics`, :mod:`.depth_metrics`, :mod:`.geometry_metrics`, :mod:`.texture_metrics`,
:mod:`.report`, :mod:`.evaluate` (the entry point).
"""

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.evaluate import Estimate, EvalConfig, evaluate
from photogrammetry.evaluation.ground_truth import GroundTruth, GroundTruthFormatError, GTView
from photogrammetry.evaluation.loaders import detect_format, load_ground_truth
from photogrammetry.evaluation.raycast import MeshRaycaster, gt_depth_map
from photogrammetry.evaluation.report import EvalReport
from photogrammetry.evaluation.similarity import Sim3

__all__ = [
    "CameraPose",
    "Estimate",
    "EvalConfig",
    "EvalReport",
    "GTView",
    "GroundTruth",
    "GroundTruthFormatError",
    "MeshRaycaster",
    "PinholeCamera",
    "Sim3",
    "detect_format",
    "evaluate",
    "gt_depth_map",
    "load_ground_truth",
]
