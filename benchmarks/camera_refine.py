"""A real set's true cameras refined on its photos: rotations (and one shared focal length) adjusted to
our feature tracks, the camera centres held at the true ones.

The office walk's photos sit 1-2 px off its true cameras (docs/benchmarks.md, "Where the depth error on the
office walk comes from"), while its sensor depth agrees with them. This module gives a yardstick the
photos agree with and that keeps the sensor's geometry: the tracks of the ``cpu`` preset's features and
matches (every pair of the frames, joined into tracks) are triangulated with the true cameras; tracks
that reproject within ``max_error`` px into every view are kept; then each camera's rotation, the
focal length (one factor on fx and fy, shared) and the points are refined with a robust (Cauchy)
reprojection loss. The centres stay at the true ones, so the walk's path and scale stay the sensor's:
no drift can enter. A weak prior on each rotation's change fixes a rotation of the whole walk about
a straight path (which the centres alone do not fix).

Used by ``benchmarks/mvs.py --real office --cameras true-refined`` (:mod:`benchmarks.mvs_real`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.transform import Rotation


@dataclass(frozen=True, kw_only=True)
class RefineOptions:
    """How the true cameras are refined on the photos."""

    preset: str = "cpu"
    """Pipeline preset whose features and matches give the tracks."""
    max_error: float = 4.0
    """px: a track triangulated with the true cameras is kept where it reprojects within this into every view."""
    loss_scale: float = 1.0
    """px: scale of the Cauchy loss on the reprojection error."""
    focal: bool = True
    """Refine one focal factor shared by every view (fx and fy alike); else the true K is kept."""
    rotation_prior_deg: float = 0.25
    """Each rotation's change costs like one observation off by 1 px per this many degrees: a rotation of
    the whole walk, which the photos barely see with the centres held (synthetic walk: 0.2 deg of pan
    costs 1.5 % of the loss), stays the true cameras' (the sensor's)."""
    rounds: int = 2
    """Tracks chosen again with the refined cameras and the refinement run again (from the true ones)."""


@dataclass
class Refinement:
    """The refined cameras and what changed."""

    names: list[str]
    rotations: dict[str, np.ndarray]
    """Per view: the refined (3, 3) world-to-camera rotation."""
    focal_scale: float
    """Refined focal over the true one (fx and fy)."""
    rotation_change_deg: dict[str, float] = field(default_factory=dict)
    """Per view: angle between the refined and the true rotation."""
    error_before: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per kept observation: px, the points refined with the true cameras held."""
    error_after: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per kept observation: px, after the refinement."""
    tracks: int = 0
    """Tracks kept."""
    sensor_ratio: tuple[float, float] | None = None
    """The tracks' depth over the sensor's, median over the views, with the true and the refined cameras."""

    def summary(self, focal_px: float) -> str:
        """One line: rotations' change, focal change, reprojection error before / after."""
        angles = np.array(list(self.rotation_change_deg.values()))
        before, after = self.error_before, self.error_after
        return (f"rotations changed by median {np.median(angles):.3f} deg, largest {angles.max():.3f} deg; "
                f"focal {focal_px:.2f} -> {focal_px * self.focal_scale:.2f} px ({self.focal_scale - 1:+.2%}); "
                f"reprojection median {np.median(before):.3f} -> {np.median(after):.3f} px, within 1 px "
                f"{np.mean(before <= 1):.3f} -> {np.mean(after <= 1):.3f} ({len(after)} observations of "
                f"{self.tracks} tracks)" + ("" if self.sensor_ratio is None else
                "; tracks' depth / sensor {:.4f} -> {:.4f}".format(*self.sensor_ratio)))


def tracks_from_pairs(counts: list[int], pairs: dict[tuple[int, int], np.ndarray]) -> list[np.ndarray]:
    """Tracks from pairwise matches: connected keypoints (scipy's connected components), without tracks
    that hold two keypoints of one image.

    Args:
        counts: keypoints per image.
        pairs: ``(i, j)`` image indices -> ``(M, 2)`` keypoint indices in image i and j.

    Returns:
        Per track, ``(L, 2)`` rows of (image index, keypoint index), L >= 2.
    """
    offsets = np.concatenate([[0], np.cumsum(counts)])
    edges = [np.stack([offsets[i] + m[:, 0], offsets[j] + m[:, 1]], 1) for (i, j), m in pairs.items() if len(m)]
    edges = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(offsets[-1], offsets[-1]))
    roots = connected_components(graph, directed=False)[1]
    image = np.searchsorted(offsets, np.arange(offsets[-1]), side="right") - 1
    order = np.argsort(roots, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(roots[order])) + 1)
    tracks = []
    for nodes in groups:
        if len(nodes) >= 2 and len(set(image[nodes])) == len(nodes):
            tracks.append(np.stack([image[nodes], nodes - offsets[image[nodes]]], 1))
    return tracks


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray, centre: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``(N, 2)`` pixels (and depth in ``[:, 2]``) of ``(N, 3)`` world points; ``scale`` multiplies fx and fy."""
    cam = (points - centre) @ R.T
    z = cam[:, 2:3]
    xy = cam[:, :2] / np.where(np.abs(z) > 1e-12, z, 1e-12)
    return np.hstack([xy * (scale * K[[0, 1], [0, 1]]) + K[:2, 2], z])


def triangulate_tracks(tracks: list[np.ndarray], keypoints: list[np.ndarray], Ks: list[np.ndarray],
                       Rs: list[np.ndarray], centres: list[np.ndarray], max_error: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Linear triangulation of every track with the given cameras; tracks in front of every view
    and within ``max_error`` px of every observation are kept.

    Returns:
        ``(P, 3)`` points and ``(O, 4)`` observations: point index, view index, pixel x, y.
    """
    from benchmarks.drift import triangulate

    P = [K @ np.hstack([R, -(R @ c)[:, None]]) for K, R, c in zip(Ks, Rs, centres)]
    points, rows = [], []
    for track in tracks:
        views, xy = track[:, 0], np.stack([keypoints[v][k] for v, k in track])
        point = triangulate(np.stack([P[v] for v in views]), xy)
        if not np.all(np.isfinite(point)):
            continue
        reprojected = np.stack([project(point[None], Ks[v], Rs[v], centres[v])[0] for v in views])
        if np.any(reprojected[:, 2] <= 0) or np.max(np.linalg.norm(reprojected[:, :2] - xy, axis=1)) > max_error:
            continue
        rows += [(len(points), v, x, y) for v, (x, y) in zip(views, xy)]
        points.append(point)
    return np.array(points).reshape(-1, 3), np.array(rows, dtype=np.float64).reshape(-1, 4)


def refine_points(points: np.ndarray, obs: np.ndarray, fxy: np.ndarray, cxy: np.ndarray, R: np.ndarray,
                  centres: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Every point moved to its least-squares reprojection optimum with the cameras held (Gauss-Newton
    from ``points``, all points at once).

    Args:
        points: ``(P, 3)`` starting points; obs: ``(O, 4)`` point index, view index, pixel x, y.
        fxy, cxy: ``(2,)`` focal lengths and principal point; R: ``(V, 3, 3)``; centres: ``(V, 3)``.
    """
    p, v = obs[:, 0].astype(int), obs[:, 1].astype(int)
    for _ in range(iterations):
        cam = np.einsum("nij,nj->ni", R[v], points[p] - centres[v])
        z = np.maximum(cam[:, 2:3], 1e-6)
        r = cam[:, :2] / z * fxy + cxy - obs[:, 2:]
        J = fxy[None, :, None] * (R[v][:, :2] / z[:, :, None] - cam[:, :2, None] * R[v][:, 2:3] / z[:, :, None] ** 2)
        JtJ, Jtr = np.zeros((len(points), 3, 3)), np.zeros((len(points), 3))
        np.add.at(JtJ, p, np.einsum("nki,nkj->nij", J, J))
        np.add.at(Jtr, p, np.einsum("nki,nk->ni", J, r))
        damping = 1e-6 * np.maximum(np.trace(JtJ, axis1=1, axis2=2), 1.0)[:, None, None] * np.eye(3)
        points = points - np.linalg.solve(JtJ + damping, Jtr[:, :, None])[:, :, 0]  # damped: low-parallax points
    return points


def _reprojection(x: np.ndarray, points: np.ndarray, obs: np.ndarray, K: np.ndarray, R0: np.ndarray,
                  centres: np.ndarray, focal: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(O, 2)`` residuals (px) with the cameras of ``x`` (rotation vectors, log focal factor), each
    point at its optimum for them, and the ``(V, 3)`` rotation vectors."""
    views = len(R0)
    rotvec = x[:3 * views].reshape(views, 3)
    fxy, cxy = K[[0, 1], [0, 1]] * (np.exp(x[3 * views]) if focal else 1.0), K[:2, 2]
    R = Rotation.from_rotvec(rotvec).as_matrix() @ R0
    points = refine_points(points, obs, fxy, cxy, R, centres)
    p, v = obs[:, 0].astype(int), obs[:, 1].astype(int)
    cam = np.einsum("nij,nj->ni", R[v], points[p] - centres[v])
    return cam[:, :2] / np.maximum(cam[:, 2:3], 1e-6) * fxy + cxy - obs[:, 2:], rotvec


def adjust(points: np.ndarray, obs: np.ndarray, K: np.ndarray, R0: np.ndarray, centres: np.ndarray,
           options: RefineOptions) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Robust adjustment of each view's rotation and (``options.focal``) the shared focal factor, the
    centres held; the points follow, each at its reprojection optimum for the cameras (variable
    projection: only the cameras' ``3 V + 1`` numbers are searched).

    Args:
        points: ``(P, 3)`` initial world points.
        obs: ``(O, 4)`` point index, view index, pixel x, y (COLMAP convention, as ``K``).
        K: ``(3, 3)`` intrinsics shared by every view.
        R0: ``(V, 3, 3)`` initial world-to-camera rotations.
        centres: ``(V, 3)`` camera centres, held.

    Returns:
        ``(V, 3, 3)`` rotations, the focal factor, and the ``(O,)`` reprojection errors (px) before
        (the points at their optimum for the initial cameras) and after.
    """
    prior = np.radians(options.rotation_prior_deg)

    def fun(x: np.ndarray) -> np.ndarray:
        residuals, rotvec = _reprojection(x, points, obs, K, R0, centres, options.focal)
        return np.concatenate([residuals.ravel(), rotvec.ravel() / prior])

    x0 = np.zeros(3 * len(R0) + 1)
    result = least_squares(fun, x0, loss="cauchy", f_scale=options.loss_scale, x_scale="jac", method="trf",
                           ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=100)
    before = np.linalg.norm(_reprojection(x0, points, obs, K, R0, centres, options.focal)[0], axis=1)
    after, rotvec = _reprojection(result.x, points, obs, K, R0, centres, options.focal)
    scale = float(np.exp(result.x[-1])) if options.focal else 1.0
    return Rotation.from_rotvec(rotvec).as_matrix() @ R0, scale, before, np.linalg.norm(after, axis=1)


def refine_cameras(keypoints: list[np.ndarray], tracks: list[np.ndarray], K: np.ndarray, R0: np.ndarray,
                   centres: np.ndarray, names: list[str], options: RefineOptions) -> Refinement:
    """Triangulate ``tracks`` with the given cameras, then refine the rotations (and the focal) on them.

    Args:
        keypoints: per view, ``(N, 2)`` pixels (COLMAP convention).
        tracks: per track, ``(L, 2)`` rows of (view index, keypoint index).
        K: ``(3, 3)`` shared intrinsics; R0: ``(V, 3, 3)`` rotations; centres: ``(V, 3)``.
        names: the views' names, in the order of the indices.
    """
    views, R, scale = len(names), R0, 1.0
    for _ in range(options.rounds):
        refined_K = K.copy()
        refined_K[[0, 1], [0, 1]] *= scale
        points, obs = triangulate_tracks(tracks, keypoints, [refined_K] * views, list(R), list(centres),
                                         options.max_error)
        if len(points) < 10:
            raise RuntimeError(f"only {len(points)} tracks agree with the cameras within {options.max_error} px")
        R, scale, before, after = adjust(points, obs, K, R0, centres, options)  # before: the true cameras
    change = {n: float(np.degrees(Rotation.from_matrix(R[i] @ R0[i].T).magnitude())) for i, n in enumerate(names)}
    return Refinement(names=names, rotations={n: R[i] for i, n in enumerate(names)}, focal_scale=scale,
                      rotation_change_deg=change, error_before=before, error_after=after, tracks=len(points))


def load_tracks(features: Path, matches: Path, names: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Keypoints per view (in ``names``' order) and tracks from a run's features and matches artifacts
    (folders)."""
    from photogrammetry.io.features import FeatureFile, MatchFile, load_features, load_matches

    index = {n: i for i, n in enumerate(names)}
    with FeatureFile(load_features(features).path) as f:
        keypoints = [f.read(n, descriptors=False).keypoints.astype(np.float64) for n in names]
    with MatchFile(load_matches(matches).path) as m:
        pairs = {(index[a], index[b]): mt.indices for a, b, mt in m.items() if a in index and b in index}
    return keypoints, tracks_from_pairs([len(k) for k in keypoints], pairs)


def refine_true_cameras(images: Path, gt, work: Path, device: str, options: RefineOptions = RefineOptions()
                        ) -> Refinement:
    """The true cameras of ``gt`` refined on the photos of ``images`` (see the module's docstring)."""
    import photogrammetry

    workspace = work / f"workspace-{options.preset}-matches"
    run = photogrammetry.run(images, workspace, preset=options.preset, until="matches", device=device,
                             progress=False)
    names = gt.names
    keypoints, tracks = load_tracks(run.folder("features"), run.folder("matches"), names)
    K = gt.views[names[0]].camera.K
    if any(not np.allclose(gt.views[n].camera.K, K) for n in names):
        raise RuntimeError("the true cameras do not share one K; refine_true_cameras expects one")
    R0 = np.stack([gt.views[n].pose.R for n in names])
    centres = np.stack([gt.views[n].pose.center for n in names])
    refined = refine_cameras(keypoints, tracks, K, R0, centres, names, options)
    R = np.stack([refined.rotations[n] for n in names])
    refined.sensor_ratio = tuple(sensor_ratio(gt, keypoints, tracks, K, rotations, centres, scale, options.max_error)
                                 for rotations, scale in ((R0, 1.0), (R, refined.focal_scale)))
    return refined


def sensor_ratio(gt, keypoints: list[np.ndarray], tracks: list[np.ndarray], K: np.ndarray, R: np.ndarray,
                 centres: np.ndarray, scale: float, max_error: float) -> float:
    """The tracks triangulated with these cameras (focal ``scale`` x K's): each view's median of their
    depth along the true camera over the sensor's depth where they land in it; the median over the views
    (the sparse twin of the depth maps' ratio median, the MVS out of it)."""
    from benchmarks.drift import sensor_at

    names, camera = gt.names, gt.views[gt.names[0]].camera
    refined_K = K.copy()
    refined_K[[0, 1], [0, 1]] *= scale
    points, obs = triangulate_tracks(tracks, keypoints, [refined_K] * len(names), list(R), list(centres), max_error)
    points = refine_points(points, obs, refined_K[[0, 1], [0, 1]], refined_K[:2, 2], R, centres)
    ratios = []
    for v, name in enumerate(names):
        seen = points[obs[obs[:, 1] == v, 0].astype(int)]
        true = project(seen, K, gt.views[name].pose.R, centres[v])
        sensor = sensor_at(gt, name, camera.width, camera.height, true[:, :2])
        if np.sum(sensor > 0) > 5:
            ratios.append(np.median(true[sensor > 0, 2] / sensor[sensor > 0]))
    return float(np.median(ratios)) if ratios else float("nan")


def refined_source(images: Path, gt, work: Path, device: str, label: str):
    """A :class:`benchmarks.mvs_real.CameraSource` labelled ``label``: the true cameras with their
    rotations (``true-rotations``) and the focal (``true-refined``) refined on the photos, the centres
    held, with the ``true`` row's sparse points (lifted from the sensor), so that only the cameras differ."""
    from benchmarks.mvs_real import CameraSource, true_scene
    from photogrammetry.evaluation import Sim3

    options = RefineOptions(focal=label == "true-refined")
    refined, scene = refine_true_cameras(images, gt, work, device, options), true_scene(gt, gt.names)
    for name, view in scene.views.items():
        K, R = view.K.copy(), refined.rotations[name]
        K[[0, 1], [0, 1]] *= refined.focal_scale
        scene.views[name] = replace(view, K=K, R=R, t=-R @ gt.views[name].pose.center)
    return CameraSource(label=label, scene=scene, to_gt=Sim3(),
                        camera_note=refined.summary(float(gt.views[gt.names[0]].camera.K[0, 0])))
