"""Rolling shutter along a sequence: each row of a frame seen at its own time, the camera turning meanwhile.

A rolling-shutter sensor reads its rows one after the other: row ``y`` of a ``height``-row frame is exposed at
``(y - height / 2) / height * tau`` frame intervals after the middle row, ``tau`` the readout time as a share of
the interval between two frames of the sequence (negative: read from the bottom up). A camera that turns at
``w`` (rotation vector per frame interval, in the camera's own axes) sees a point of row ``y`` with the rotation
``exp(w t) R`` instead of ``R``: the image shears and stretches with the angular velocity, which a global-shutter
model absorbs into its focal length and rotations.

This module holds the model's geometry: the velocities of a sequence of frames from their neighbours, the
camera of each observation, and keypoints unrolled to the middle row's time (rotation only:
``x' = K exp(-w t) K^-1 x``, the camera's own motion during the readout being negligible beside its turn), and
the sfm stage's search of ``tau`` on a refined model (:func:`correct_refined`, off by default: see
:class:`~photogrammetry.sfm.rolling_shutter_options.RollingShutterOptions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from photogrammetry.sfm.rolling_shutter_options import RollingShutterOptions


def sequence_velocities(rotations: np.ndarray, centres: np.ndarray | None = None, frames: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Angular and linear velocity of each frame of a sequence, per frame interval, from its neighbours.

    Args:
        rotations: ``(V, 3, 3)`` world-to-camera rotations of consecutive frames (V >= 2).
        centres: ``(V, 3)`` camera centres, or ``None`` (the linear velocities are then zero).
        frames: ``(V,)`` increasing frame numbers (a sequence with frames left out); ``None``: 0, 1, 2, ...

    Returns:
        ``(V, 3)`` rotation vectors ``w`` (camera axes: ``R(t) = exp(w t) R``) and ``(V, 3)`` centre velocities
        (world axes), central differences inside the sequence, one-sided at its ends.
    """
    count = len(rotations)
    if count < 2:
        raise ValueError("a sequence's velocities need at least two frames")
    before = np.clip(np.arange(count) - 1, 0, count - 1)
    after = np.clip(np.arange(count) + 1, 0, count - 1)
    numbers = np.arange(count) if frames is None else np.asarray(frames)
    steps = (numbers[after] - numbers[before])[:, None].astype(float)
    turn = Rotation.from_matrix(rotations[after] @ np.transpose(rotations[before], (0, 2, 1))).as_rotvec()
    if centres is None:
        return turn / steps, np.zeros((count, 3))
    return turn / steps, (centres[after] - centres[before]) / steps


def row_times(rows: np.ndarray, height: int, tau: float) -> np.ndarray:
    """Time (frame intervals) at which pixel rows ``rows`` were read, relative to the middle row."""
    return (np.asarray(rows, float) - height / 2.0) / height * tau


def unroll(xy: np.ndarray, K: np.ndarray, w: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Keypoints moved to where a global-shutter camera at the middle row's time would see them (rotation only).

    Args:
        xy: ``(N, 2)`` pixels; K: ``(3, 3)`` intrinsics (pinhole: undistorted pixels).
        w: ``(3,)`` the frame's angular velocity (rotation vector per frame interval, camera axes), or ``(N, 3)``.
        times: ``(N,)`` each keypoint's time (frame intervals, :func:`row_times`).
    """
    rays = np.linalg.solve(K, np.hstack([xy, np.ones((len(xy), 1))]).T).T
    back = Rotation.from_rotvec(-np.broadcast_to(w, (len(xy), 3)) * np.asarray(times)[:, None]).as_matrix()
    moved = np.einsum("nij,nj->ni", back, rays) @ K.T
    return moved[:, :2] / moved[:, 2:3]


def observation_cameras(views: np.ndarray, rows: np.ndarray, rotations: np.ndarray, centres: np.ndarray,
                        angular: np.ndarray, linear: np.ndarray, height: int, tau: float, offset: float = 0.0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The camera each observation was seen with: its view's pose moved by the view's velocity over its row's time.

    Args:
        views: ``(O,)`` view index of each observation; rows: ``(O,)`` its pixel row.
        rotations, centres: ``(V, 3, 3)``, ``(V, 3)`` the views' poses at their middle row.
        angular, linear: ``(V, 3)`` velocities per frame interval (:func:`sequence_velocities`).
        offset: frame intervals added to every row's time (the poses' time stamps off the photos').

    Returns:
        ``(O, 3, 3)`` rotations and ``(O, 3)`` centres.
    """
    times = row_times(rows, height, tau)[:, None] + offset
    turn = Rotation.from_rotvec(angular[views] * times).as_matrix()
    return turn @ rotations[views], centres[views] + linear[views] * times


def _sequence(model, names: list[str] | None = None) -> tuple[list[int], np.ndarray]:
    """The registered images in capture order (``names``, else name order) and their ``(V, 3)`` angular
    velocities per frame interval (from the neighbouring registered frames; frames left out counted)."""
    frame = {n: k for k, n in enumerate(names or sorted(model.image(i).name for i in model.images))}
    ids = sorted((i for i in model.reg_image_ids() if model.image(i).name in frame),
                 key=lambda i: frame[model.image(i).name])
    R = np.stack([model.image(i).cam_from_world().rotation.matrix() for i in ids])
    return ids, sequence_velocities(R, frames=np.array([frame[model.image(i).name] for i in ids]))[0]


def unrolled(model, tau: float, names: list[str] | None = None):
    """A copy of ``model`` with every keypoint unrolled (:func:`unroll`, through each camera's lens model) to its
    frame's middle-row time at readout ``tau`` (frames in the order of ``names``, else by name); the cameras
    and points as they were."""
    import copy

    out = copy.deepcopy(model)
    ids, angular = _sequence(model, names)
    for image_id, w in zip(ids, angular):
        image, camera = out.image(image_id), out.camera(out.image(image_id).camera_id)
        xy = np.array([p.xy for p in image.points2D]).reshape(-1, 2)
        if not len(xy):
            continue
        moved = unroll(camera.cam_from_img(xy), np.eye(3), w, row_times(xy[:, 1], camera.height, tau))
        for point, new in zip(image.points2D, camera.img_from_cam(np.hstack([moved, np.ones((len(moved), 1))]))):
            point.xy = new
    return out


def observation_errors(model) -> np.ndarray:
    """Every observation's reprojection error (px) in ``model``; NaN where the point lies behind the camera."""
    errors = []
    for image_id in model.reg_image_ids():
        image = model.image(image_id)
        camera = model.camera(image.camera_id)
        seen = [(p.xy, model.point3D(p.point3D_id).xyz) for p in image.points2D if p.has_point3D()]
        if not seen:
            continue
        xy, xyz = (np.array(a) for a in zip(*seen))
        cam = xyz @ image.cam_from_world().rotation.matrix().T + image.cam_from_world().translation
        error = np.linalg.norm(camera.img_from_cam(cam) - xy, axis=1)
        errors.append(np.where(cam[:, 2] > 0, error, np.nan))
    return np.concatenate(errors) if errors else np.zeros(0)


def cauchy_cost(errors: np.ndarray, scale: float = 1.0) -> float:
    """Mean Cauchy loss ``log(1 + (e / scale)^2)`` of px errors (NaN ones left out): the cost a robust
    adjustment minimises."""
    return float(np.nanmean(np.log1p((np.asarray(errors) / scale) ** 2)))


@dataclass(frozen=True)
class ShutterReport:
    """What the readout search found on a sequence."""

    tau: float
    """The readout time found (share of the frame interval; positive: top row first)."""
    cost: float
    """The tracks' mean Cauchy cost (1 px) at ``tau``, the model adjusted again."""
    cost_global: float
    """The same at ``tau`` 0 (a global shutter), adjusted the same way."""
    kept: bool
    """Whether the correction was kept (the cost fell by ``min_gain``)."""
    evaluations: int
    """Adjustments run."""

    @property
    def gain(self) -> float:
        return 1.0 - self.cost / self.cost_global if self.cost_global > 0 else 0.0

    def describe(self) -> str:
        return (f"rolling shutter: readout {self.tau:+.3f} of the frame interval, tracks' cost {self.gain:.1%} "
                f"below a global shutter's ({self.cost_global:.4f} -> {self.cost:.4f}, {self.evaluations} "
                f"adjustments): " + ("keypoints unrolled, model adjusted" if self.kept else "not kept"))


def is_sequence(model, video: bool) -> bool:
    """Whether ``model``'s images are a sequence whose name order is their time order: frames of a video, or
    a walk straight ahead (:func:`~photogrammetry.sfm.intrinsics.moves_ahead`), at least three registered."""
    from photogrammetry.sfm import intrinsics

    if model.num_reg_images() < 3:
        return False
    return video or intrinsics.moves_ahead(intrinsics.forward_motion(model))


def search(model, options: RollingShutterOptions, adjust: Callable, names: list[str] | None = None
           ) -> tuple[object, ShutterReport]:
    """The readout ``tau`` that lowers the tracks' robust cost most, each try's keypoints unrolled and the model
    adjusted by ``adjust`` (in place); the bounded 1-D search of scipy.

    Returns:
        The model unrolled and adjusted at the ``tau`` found where kept, else ``model`` itself, and the report.
    """
    from scipy.optimize import minimize_scalar

    tried: dict[float, float] = {}
    best: list = [None, None]  # tau, its model

    def cost(tau: float) -> float:
        candidate = unrolled(model, float(tau), names)
        adjust(candidate)
        tried[float(tau)] = cauchy_cost(observation_errors(candidate))
        if best[0] is None or tried[float(tau)] < tried[best[0]]:
            best[:] = [float(tau), candidate]
        return tried[float(tau)]

    cost_global = cost(0.0)
    minimize_scalar(cost, bounds=(-options.max_tau, options.max_tau), method="bounded",
                    options={"xatol": options.tolerance})
    tau = best[0]
    kept = tau != 0.0 and tried[tau] <= (1.0 - options.min_gain) * cost_global
    report = ShutterReport(tau=round(tau, 4), cost=tried[tau], cost_global=cost_global, kept=kept,
                           evaluations=len(tried))
    return (best[1] if kept else model), report


def correct_refined(refined, ingest, config, num_threads: int, log):
    """The final refinement's model (a :class:`~photogrammetry.sfm.adjust.Refinement`) corrected for a rolling
    shutter where it is a sequence and the search keeps a readout (:func:`search`; each try adjusted as the final
    refinement adjusts: the focal length as configured, the principal point and distortion as it chose).

    Returns:
        The refinement (its model unrolled and adjusted, or as it was) and the report, ``None`` where not searched.
    """
    import dataclasses

    import pycolmap

    from photogrammetry.sfm.adjust import bundle_options

    options: RollingShutterOptions = config.rolling_shutter
    if not options.enabled or not is_sequence(refined.model, any(im.video for im in ingest.images)):
        return refined, None
    ba = bundle_options(config, principal_point=refined.principal_point, distortion=refined.distortion,
                               num_threads=num_threads)
    model, report = search(refined.model, options, lambda m: pycolmap.bundle_adjustment(m, ba),
                           sorted(im.name for im in ingest.images))
    log.info("%s", report.describe())
    return dataclasses.replace(refined, model=model), report
