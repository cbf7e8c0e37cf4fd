"""Similarity transforms (Sim3) and their estimation from point pairs (Umeyama, RANSAC)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from photogrammetry.evaluation.cameras import CameraPose, checked_array


@dataclass(frozen=True, kw_only=True, eq=False)
class Sim3:
    """A similarity ``Y = scale * R @ X + t`` mapping one frame (e.g. an estimate) into another."""

    scale: float = 1.0
    """Positive scale factor."""
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    """(3, 3) rotation."""
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """(3,) translation, in the target frame's units."""

    def __post_init__(self) -> None:
        if not np.isfinite(self.scale) or self.scale <= 0:
            raise ValueError(f"Sim3 scale must be positive, got {self.scale}")
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "R", checked_array(self.R, (3, 3), "R"))
        object.__setattr__(self, "t", checked_array(self.t, (3,), "t"))

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Sim3:
        """Build from a (4, 4) matrix ``[[s R, t], [0, 1]]``."""
        matrix = checked_array(matrix, (4, 4), "Sim3 matrix")
        scale = float(np.cbrt(np.linalg.det(matrix[:3, :3])))
        return cls(scale=scale, R=matrix[:3, :3] / scale, t=matrix[:3, 3])

    @property
    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous matrix ``[[s R, t], [0, 1]]``."""
        out = np.eye(4)
        out[:3, :3] = self.scale * self.R
        out[:3, 3] = self.t
        return out

    def inverse(self) -> Sim3:
        """The transform from the target frame back to the source frame."""
        R_inv = self.R.T
        return Sim3(scale=1.0 / self.scale, R=R_inv, t=-(R_inv @ self.t) / self.scale)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points ``(N, 3)`` (or one ``(3,)``) into the target frame."""
        points = np.asarray(points, dtype=np.float64)
        return self.scale * points @ self.R.T + self.t

    def apply_to_pose(self, pose: CameraPose) -> CameraPose:
        """Express a ``cam_from_world`` pose of the source frame in the target frame.

        The camera keeps its orientation relative to the scene; its translation is scaled
        so that camera-frame distances are in the target frame's units.
        """
        R = pose.R @ self.R.T
        return CameraPose.from_center(R=R, center=self.apply(pose.center))


def umeyama(src: np.ndarray, dst: np.ndarray) -> Sim3:
    """Least-squares similarity with ``dst ~ scale * R @ src + t`` (Umeyama 1991).

    Args:
        src: (N, 3) points in the source frame, N >= 3 and not all collinear.
        dst: (N, 3) corresponding points in the target frame.

    Returns:
        The fitted transform.

    Raises:
        ValueError: on mismatched shapes, fewer than 3 points or degenerate (collinear) input.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3 or len(src) < 3:
        raise ValueError(f"need matching (N>=3, 3) arrays, got {src.shape} and {dst.shape}")
    mu_src, mu_dst = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mu_src, dst - mu_dst
    var_src = np.mean(np.sum(src_c**2, axis=1))
    U, D, Vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    if var_src <= 0 or D[1] <= 1e-12 * max(D[0], 1e-300):
        raise ValueError("points are degenerate (coincident or collinear); cannot fit a Sim3")
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1.0
    R = U @ S @ Vt
    scale = float(np.trace(np.diag(D) @ S) / var_src)
    return Sim3(scale=scale, R=R, t=mu_dst - scale * R @ mu_src)


def orientation_similarity(src_rotations: np.ndarray, src_centers: np.ndarray, dst_rotations: np.ndarray,
                           dst_centers: np.ndarray) -> Sim3:
    """Sim3 from one set of cameras to another whose rotation comes from their orientations, for
    centres on (or near) a line, which leave the rotation about it free.

    With ``R_src = R_dst Q`` for every camera (``cam_from_world`` rotations, (N, 3, 3)), ``Q`` is
    the chordal mean of ``R_dst^T R_src`` (projected onto the rotations by SVD); scale and
    translation then follow from the centres (N, 3) by least squares, which a line determines.

    Raises:
        ValueError: when the source centres coincide or the fitted scale is not positive.
    """
    total = np.einsum("nji,njk->ik", dst_rotations, src_rotations)
    u, _, vt = np.linalg.svd(total)
    rotation = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    src = src_centers @ rotation.T
    src_c, dst_c = src - src.mean(axis=0), dst_centers - dst_centers.mean(axis=0)
    spread = float((src_c**2).sum())
    if spread <= 1e-18:
        raise ValueError("the source camera centres coincide")
    scale = float((src_c * dst_c).sum() / spread)
    if scale <= 0:
        raise ValueError("orientation-based alignment gives a negative scale")
    return Sim3(scale=scale, R=rotation, t=dst_centers.mean(axis=0) - scale * src.mean(axis=0))


def _minimal_samples(n: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """(M, 3) index triples: all of them when few, else ``iterations`` random ones."""
    if n * (n - 1) * (n - 2) // 6 <= iterations:
        return np.array(list(itertools.combinations(range(n), 3)), dtype=np.int64)
    return np.array([rng.choice(n, size=3, replace=False) for _ in range(iterations)])


def _inliers(sim: Sim3, src: np.ndarray, dst: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) bool: points that ``sim`` maps within ``threshold`` of their target."""
    return np.linalg.norm(sim.apply(src) - dst, axis=1) <= threshold


def ransac_umeyama(
    src: np.ndarray,
    dst: np.ndarray,
    *,
    threshold: float,
    iterations: int = 2000,
    seed: int = 0,
) -> tuple[Sim3, np.ndarray]:
    """Robust similarity: RANSAC over minimal triples, then least squares on the inliers.

    Args:
        src: (N, 3) points in the source frame, N >= 3.
        dst: (N, 3) corresponding points in the target frame.
        threshold: inlier distance in the target frame's units.
        iterations: number of random triples (all triples are tried when there are fewer).
        seed: seed of the random sampler, for reproducible results.

    Returns:
        The transform and a (N,) boolean inlier mask. Falls back to least squares on all
        points when no triple gathers at least 3 inliers.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    best = umeyama(src, dst)
    best_inliers = _inliers(best, src, dst, threshold)
    for triple in _minimal_samples(len(src), iterations, np.random.default_rng(seed)):
        try:
            candidate = umeyama(src[triple], dst[triple])
        except ValueError:
            continue  # collinear triple: no model to score
        inliers = _inliers(candidate, src, dst, threshold)
        if inliers.sum() > best_inliers.sum():
            best, best_inliers = candidate, inliers
    for _ in range(3):  # local optimisation: refit on the inliers until stable
        if best_inliers.sum() < 3:
            break
        refit = umeyama(src[best_inliers], dst[best_inliers])
        refit_inliers = _inliers(refit, src, dst, threshold)
        if refit_inliers.sum() < best_inliers.sum():
            break
        best, best_inliers = refit, refit_inliers
    return best, best_inliers
