"""The true cameras refined on the photos (benchmarks/camera_refine.py), on a synthetic walk."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from benchmarks.camera_refine import RefineOptions, project, refine_cameras, tracks_from_pairs


def look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation of a camera at ``centre`` looking at ``target`` (+y down)."""
    z = (target - centre) / np.linalg.norm(target - centre)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def walk(seed: int = 0):
    """8 cameras along a curved walk past 400 points 2-5 m away, the shared K, and every point's
    observations (0.1 px noise, 5 % of them 3 px off in any direction) as keypoints and tracks."""
    rng = np.random.default_rng(seed)
    K = np.array([[500.0, 0, 270], [0, 500.0, 180], [0, 0, 1]])
    s = np.linspace(0, 1.4, 8)
    centres = np.stack([s, 0.1 * np.sin(3 * s), 0.3 * s**2], 1)
    R = np.stack([look_at(c, np.array([0.7, 0.0, 4.0]) + [0.3 * k, 0, 0]) for k, c in enumerate(centres)])
    points = np.stack([rng.uniform(-1.5, 3.0, 400), rng.uniform(-1.0, 1.0, 400), rng.uniform(2.5, 5.5, 400)], 1)
    keypoints, tracks = [[] for _ in centres], []
    for p in range(len(points)):
        track = []
        for v in range(len(centres)):
            x, y, z = project(points[p:p + 1], K, R[v], centres[v])[0]
            if z > 0 and 0 <= x < 540 and 0 <= y < 360:
                angle = rng.uniform(0, 2 * np.pi)
                outlier = 3.0 * np.array([np.cos(angle), np.sin(angle)]) if rng.random() < 0.05 else 0.0
                xy = np.array([x, y]) + rng.normal(0, 0.1, 2) + outlier
                track.append((v, len(keypoints[v])))
                keypoints[v].append(xy)
        if len(track) >= 2:
            tracks.append(np.array(track))
    return K, R, centres, [np.array(k) for k in keypoints], tracks


def angle_deg(A: np.ndarray, B: np.ndarray) -> float:
    """Angle between two rotations, degrees."""
    return float(np.degrees(Rotation.from_matrix(A @ B.T).magnitude()))


def test_rotations_and_focal_recovered() -> None:
    """Cameras given with 0.2-0.5 deg rotation errors (no common part) and a focal 1 % long: the
    rotations come back within 0.1 deg (within 0.03 deg of each other), the focal within 0.3 %, and
    the reprojection error drops to the noise."""
    K, R, centres, keypoints, tracks = walk()
    rng = np.random.default_rng(1)
    axes = rng.normal(size=(len(R), 3))
    errors = axes / np.linalg.norm(axes, axis=1, keepdims=True) * np.radians(rng.uniform(0.2, 0.5, (len(R), 1)))
    given = Rotation.from_rotvec(errors - errors.mean(0)).as_matrix() @ R
    K_given = K.copy()
    K_given[[0, 1], [0, 1]] *= 1.01
    names = [f"{k:03d}" for k in range(len(R))]
    refined = refine_cameras(keypoints, tracks, K_given, given, centres, names, RefineOptions())
    for k, name in enumerate(names):
        assert angle_deg(refined.rotations[name], R[k]) < 0.1, name
        relative = angle_deg(refined.rotations[name] @ refined.rotations[names[0]].T, R[k] @ R[0].T)
        assert relative < 0.03, name
        assert abs(refined.rotation_change_deg[name] - angle_deg(given[k], R[k])) < 0.1
    assert abs(refined.focal_scale * 1.01 - 1) < 0.003
    assert np.median(refined.error_after) < 0.15 < 1.0 < np.median(refined.error_before)
    assert refined.tracks > 300


def test_rotations_only_keeps_focal() -> None:
    """With ``focal=False`` the focal stays, and one camera's 0.3 deg error is taken out (to 0.05 deg)."""
    K, R, centres, keypoints, tracks = walk(seed=2)
    given = R.copy()
    given[3] = Rotation.from_rotvec([0.0, np.radians(0.3), 0.0]).as_matrix() @ R[3]
    names = [str(k) for k in range(len(R))]
    refined = refine_cameras(keypoints, tracks, K, given, centres, names, RefineOptions(focal=False))
    assert refined.focal_scale == 1.0
    # the prior shares the error's common part (0.3 / 8 deg), which the photos barely see, among all views
    assert all(angle_deg(refined.rotations[n], R[k]) < 0.05 for k, n in enumerate(names))
    assert refined.rotation_change_deg["3"] > 0.27


def test_tracks_from_pairs() -> None:
    """Matches join into tracks across pairs; a track holding two keypoints of one image is dropped."""
    pairs = {(0, 1): np.array([[0, 0], [1, 1], [2, 3]]), (1, 2): np.array([[0, 5], [3, 4]]),
             (0, 2): np.array([[1, 2], [3, 4]])}
    tracks = sorted(tuple(map(tuple, t)) for t in tracks_from_pairs([4, 4, 6], pairs))
    assert tracks == [((0, 0), (1, 0), (2, 5)), ((0, 1), (1, 1), (2, 2))]
