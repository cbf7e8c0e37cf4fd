"""Camera pose accuracy: registration, pairwise relative-pose AUC, errors after a Sim3 alignment."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.evaluation.cameras import CameraPose, rotation_angle_deg, vector_angle_deg
from photogrammetry.evaluation.ground_truth import GroundTruth
from photogrammetry.evaluation.loaders import read_colmap_model
from photogrammetry.evaluation.similarity import Sim3, orientation_similarity, ransac_umeyama, umeyama

logger = logging.getLogger(__name__)

PoseLike = CameraPose | tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]
"""A pose as :class:`CameraPose`, ``(R, t)`` or ``(K, R, t)`` (``K`` is not used)."""


@dataclass(frozen=True, kw_only=True)
class PoseEvalConfig:
    """Settings of the pose evaluation."""

    auc_thresholds_deg: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)
    """Error thresholds of the relative-pose AUCs, in degrees."""
    ransac_threshold: float | None = 0.05
    """Inlier distance of the robust Sim3 alignment, relative to the scene extent;
    ``None`` fits by least squares over all registered cameras."""
    ransac_iterations: int = 2000
    """Random camera triples tried by the robust alignment."""
    seed: int = 0
    """Seed of the robust alignment's sampler."""


@dataclass(frozen=True, kw_only=True)
class ImagePoseError:
    """Errors of one registered image after the Sim3 alignment."""

    rotation_deg: float
    """Angle of ``R_est_aligned @ R_gt^T``, degrees."""
    center_error: float
    """Distance between aligned and GT camera centres, relative to the scene extent."""


@dataclass(frozen=True, kw_only=True, eq=False)
class PoseMetrics:
    """Pose accuracy of a reconstruction against ground truth."""

    num_gt_images: int
    """GT images evaluated (hold-out views excluded)."""
    num_registered: int
    """Of those, images present in the estimate."""
    auc: dict[float, float]
    """Relative-pose AUC by threshold (degrees), over all GT pairs; unregistered pairs fail."""
    num_pairs: int
    """GT image pairs behind the AUCs."""
    rotation_error_median_deg: float | None = None
    """Median rotation error after alignment; ``None`` with fewer than 3 registered images."""
    center_error_median: float | None = None
    """Median camera-centre error after alignment, relative to the scene extent."""
    num_inliers: int | None = None
    """Cameras the Sim3 was fitted on (RANSAC inliers, or all)."""
    alignment: Sim3 | None = None
    """The Sim3 from the estimate's frame to the GT frame."""
    aligned_by_orientations: bool = False
    """The alignment's rotation comes from the cameras' orientations (:func:`align_by_orientations`):
    their centres were collinear, or it misplaced the scene less than the centres' fit."""
    per_image: dict[str, ImagePoseError] = field(default_factory=dict)
    """Errors of each registered image after alignment."""

    @property
    def registered_fraction(self) -> float:
        """Fraction of the GT images that the estimate registered."""
        return self.num_registered / self.num_gt_images if self.num_gt_images else 0.0


def _to_pose(value: PoseLike, name: str) -> CameraPose:
    """A :class:`CameraPose` from any :data:`PoseLike`."""
    if isinstance(value, CameraPose):
        return value
    if isinstance(value, tuple) and len(value) in (2, 3):
        return CameraPose(R=value[-2], t=value[-1])
    raise TypeError(f"pose of {name!r} must be CameraPose, (R, t) or (K, R, t), got {type(value).__name__}")


def estimated_poses(source: Mapping[str, PoseLike] | pycolmap.Reconstruction | Path) -> dict[str, CameraPose]:
    """Adapter: the registered poses of an estimate, by image name.

    Args:
        source: a mapping image name -> pose, a ``pycolmap.Reconstruction`` or the path of a
            COLMAP model folder (text or binary).
    """
    if isinstance(source, (str, Path)):
        source = read_colmap_model(Path(source))
    if isinstance(source, pycolmap.Reconstruction):
        return {
            im.name: CameraPose(R=im.cam_from_world().rotation.matrix(), t=im.cam_from_world().translation)
            for im in source.images.values()
            if im.has_pose
        }
    return {name: _to_pose(value, name) for name, value in source.items()}


def relative_pose_errors(gt: Sequence[CameraPose], est: Sequence[CameraPose | None]) -> np.ndarray:
    """Errors of the relative poses of all pairs ``i < j``: max(rotation, translation angle).

    The translation error is the angle between the directions of the relative translations
    (no sign folding: a reconstruction fixes it). Pairs with a missing estimate get ``inf``.

    Args:
        gt: N ground-truth poses.
        est: N estimated poses, ``None`` for unregistered images.

    Returns:
        (N * (N - 1) / 2,) errors in degrees, pairs in ``np.triu_indices(N, 1)`` order.
    """
    i, j = np.triu_indices(len(gt), 1)
    missing = np.array([p is None for p in est])
    filled = [p if p is not None else CameraPose(R=np.eye(3), t=np.zeros(3)) for p in est]

    def relative(poses: Sequence[CameraPose]) -> tuple[np.ndarray, np.ndarray]:
        """(P, 3, 3) rotations and (P, 3) translations of cam_j from cam_i for every pair."""
        R = np.stack([p.R for p in poses])
        t = np.stack([p.t for p in poses])
        R_rel = R[j] @ np.transpose(R[i], (0, 2, 1))  # cam_j from cam_i
        return R_rel, t[j] - np.einsum("nab,nb->na", R_rel, t[i])

    R_gt, t_gt = relative(gt)
    R_est, t_est = relative(filled)
    rot = rotation_angle_deg(np.transpose(R_est, (0, 2, 1)) @ R_gt)
    trans = np.nan_to_num(vector_angle_deg(t_est, t_gt), nan=0.0)  # coincident GT centres: rotation only
    errors = np.maximum(rot, trans)
    errors[missing[i] | missing[j]] = np.inf
    return errors


def pose_auc(errors: np.ndarray, thresholds: Sequence[float]) -> list[float]:
    """Area under the recall-vs-error curve up to each threshold, normalised (glue-factory style).

    Args:
        errors: (M,) errors; ``inf`` counts as a failure.
        thresholds: thresholds, same unit as the errors.

    Returns:
        One AUC in [0, 1] per threshold.
    """
    errors = np.sort(np.asarray(errors, dtype=np.float64))
    recall = np.arange(1, len(errors) + 1) / max(len(errors), 1)
    errors = np.concatenate([[0.0], errors])
    recall = np.concatenate([[0.0], recall])
    aucs = []
    for threshold in thresholds:
        last = int(np.searchsorted(errors, threshold))
        r = np.concatenate([recall[:last], [recall[last - 1]]])
        e = np.concatenate([errors[:last], [threshold]])
        aucs.append(float(np.trapezoid(r, x=e) / threshold))
    return aucs


def align_cameras(
    est: Mapping[str, CameraPose], gt: GroundTruth, names: Sequence[str], config: PoseEvalConfig
) -> tuple[Sim3, int]:
    """Sim3 from the estimate's frame to GT, fitted on the camera centres of ``names`` (>= 3).

    Returns:
        The transform and the number of cameras it was fitted on.
    """
    src = np.stack([est[n].center for n in names])
    dst = gt.centers(list(names))
    if config.ransac_threshold is None:
        return umeyama(src, dst), len(names)
    sim, inliers = ransac_umeyama(
        src,
        dst,
        threshold=config.ransac_threshold * gt.extent,
        iterations=config.ransac_iterations,
        seed=config.seed,
    )
    return sim, int(inliers.sum())


def align_by_orientations(est: Mapping[str, CameraPose], gt: GroundTruth, names: Sequence[str]) -> Sim3:
    """Sim3 whose rotation comes from the cameras' orientations, for rigs whose centres are collinear
    (:func:`~photogrammetry.evaluation.similarity.orientation_similarity`).

    Raises:
        ValueError: when the centres coincide or the fitted scale is not positive.
    """
    return orientation_similarity(np.stack([est[n].R for n in names]), np.stack([est[n].center for n in names]),
                                  np.stack([gt.views[n].pose.R for n in names]), gt.centers(list(names)))


def _per_image_errors(
    est: Mapping[str, CameraPose], gt: GroundTruth, names: Sequence[str], sim: Sim3
) -> dict[str, ImagePoseError]:
    """Rotation and relative centre error of each image after applying ``sim``."""
    out = {}
    for name in names:
        aligned, truth = sim.apply_to_pose(est[name]), gt.views[name].pose
        out[name] = ImagePoseError(
            rotation_deg=float(rotation_angle_deg(aligned.R @ truth.R.T)),
            center_error=float(np.linalg.norm(aligned.center - truth.center) / gt.extent),
        )
    return out


def _misplacement(est: Mapping[str, CameraPose], gt: GroundTruth, names: Sequence[str], sim: Sim3) -> float:
    """How far ``sim`` leaves what the cameras see, relative to the scene's extent: the median rotation
    error in radians (a point the scene's extent away from a camera moves by that much) plus the median
    centre error."""
    errors = _per_image_errors(est, gt, names, sim).values()
    return float(np.radians(np.median([e.rotation_deg for e in errors])) + np.median([e.center_error for e in errors]))


def _best_alignment(
    est: Mapping[str, CameraPose], gt: GroundTruth, names: Sequence[str], config: PoseEvalConfig
) -> tuple[Sim3, int, bool] | None:
    """The centres' Sim3 or the orientations' one, whichever misplaces the scene less (:func:`_misplacement`).

    Centres on a line leave the roll about it free; centres *nearly* on a line (a walk, a video) fix it
    by noise: the office walk's 20-frame windows, aligned by their centres, kept 1.2-2.0 degrees of
    rotation error (0.24-0.48 by their orientations, with centre errors as small or smaller), enough to
    move the surfaces 2-4 % against the sensor depth; on a turn it can reach 180 degrees. Where the
    centres spread the two fits agree (temple, orbit: the same errors). The orientations' fit is also
    taken when the centres' one fails (collinear centres).

    Returns:
        ``(sim, cameras it was fitted on, by orientations)``, or ``None`` when neither fits.
    """
    reasons = []
    try:
        centres = align_cameras(est, gt, names, config)
    except ValueError as err:  # collinear or coincident estimated centres
        centres, reasons = None, [str(err)]
    try:
        orientations = align_by_orientations(est, gt, names)
    except ValueError as err:
        orientations = None
        reasons.append(str(err))
    if centres is None and orientations is None:
        logger.warning("cannot align the estimate to the ground truth: %s", "; ".join(reasons))
        return None
    if centres is None:
        logger.info("camera centres are collinear (%s): aligned by the cameras' orientations", reasons[0])
        return orientations, len(names), True
    if orientations is not None:
        by_centres = _misplacement(est, gt, names, centres[0])
        by_axes = _misplacement(est, gt, names, orientations)
        if by_axes < by_centres:
            logger.info("the cameras' orientations align the scene better than their centres (misplacement "
                        "%.4f against %.4f of its extent): aligned by the orientations", by_axes, by_centres)
            return orientations, len(names), True
    return centres[0], centres[1], False


def evaluate_poses(
    estimate: Mapping[str, CameraPose],
    gt: GroundTruth,
    *,
    exclude: Sequence[str] = (),
    config: PoseEvalConfig | None = None,
) -> PoseMetrics:
    """Compare estimated poses with ground truth.

    Args:
        estimate: estimated ``cam_from_world`` poses by image name (see :func:`estimated_poses`).
        gt: the ground truth; its images define the pairs.
        exclude: GT images left out of the evaluation (e.g. held-out views).
        config: settings (default: :class:`PoseEvalConfig`).

    Returns:
        Registration, AUCs and, with at least 3 registered images, aligned errors.
    """
    config = config or PoseEvalConfig()
    excluded = set(exclude)
    names = [n for n in gt.names if n not in excluded]
    registered = [n for n in names if n in estimate]
    errors = relative_pose_errors([gt.views[n].pose for n in names], [estimate.get(n) for n in names])
    metrics = {
        "num_gt_images": len(names),
        "num_registered": len(registered),
        "num_pairs": len(errors),
        "auc": dict(zip(config.auc_thresholds_deg, pose_auc(errors, config.auc_thresholds_deg), strict=True)),
    }
    if len(registered) < 3:
        logger.warning("only %d GT images registered: no Sim3 alignment", len(registered))
        return PoseMetrics(**metrics)
    chosen = _best_alignment(estimate, gt, registered, config)
    if chosen is None:
        return PoseMetrics(**metrics)
    sim, num_inliers, by_orientations = chosen
    per_image = _per_image_errors(estimate, gt, registered, sim)
    return PoseMetrics(
        **metrics,
        rotation_error_median_deg=float(np.median([e.rotation_deg for e in per_image.values()])),
        center_error_median=float(np.median([e.center_error for e in per_image.values()])),
        num_inliers=num_inliers,
        alignment=sim,
        aligned_by_orientations=by_orientations,
        per_image=per_image,
    )
