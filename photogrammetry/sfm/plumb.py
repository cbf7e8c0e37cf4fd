"""Radial lens distortion measured from straight edges in the photos themselves (a plumb-line fit).

The photos' straight scene edges are found by :mod:`photogrammetry.sfm.plumb_edges` (LSD segments chained,
the edge located along them).
The distortion is the one that makes the edges straightest: for COLMAP's ``SIMPLE_RADIAL``
(``x_d = x (1 + k1 |x|^2)`` in coordinates normalised by the focal length), the edge points are undistorted
with each ``k1`` of a grid (OpenCV's ``undistortPoints``), each edge scores ``x / (1 + x)``, ``x`` its
points' mean squared distance from their line over ``noise_px^2`` (curved things that no ``k1``
straightens count at most 1), the photos' scores are summed and the best ``k1`` refined between its grid
neighbours (scipy's bounded scalar search; :func:`measure`). An edge straightest at either end of the search
range is left out first (:func:`_bent_beyond_range`): a lens bends a straight edge by an amount fixed by where
it lies, and one that only a stronger lens than the range allows would straighten is a curved thing (a dome's
top, which LSD keeps whole as one segment, an arch's flank, a roofline): on a rendered facade of domes and
arches (``tests/sfm/test_plumb_curved.py``) and on the office frames as they are, these edges pulled the fit off 0.

The distortion is reported as the *corner shift* ``k1 r^2`` (``r``: the farthest image corner's distance
from the principal point over the focal length), the fraction by which the lens moves that corner
towards or away from the centre: in pixels it is ``k1 R^3 / f^2`` at ``R`` pixels, nearly independent of
the focal length, so fits of different focal lengths compare through it. Its standard deviation comes
from a bootstrap over the photos; with too few chains, too few photos, a spread over ``max_sd`` or a
minimum at the end of the search range the result says there is no evidence (:attr:`PlumbFit.reason`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.io.sfm import LensCheck
from photogrammetry.sfm.plumb_edges import Edges, photo_edges, read_gray
from photogrammetry.sfm.plumb_options import PlumbOptions

if TYPE_CHECKING:
    import pycolmap

log = logging.getLogger("photogrammetry.sfm")


@dataclass(frozen=True)
class PlumbFit:
    """The lens distortion that straightens a camera's photos' edges, or why there is none."""

    corner_shift: float | None
    """``k1 r^2`` (see the module), ``None`` where nothing was measured."""
    sd: float | None
    """Standard deviation of ``corner_shift`` (bootstrap over photos)."""
    lines: int
    """Chains of segments used (straight scene edges)."""
    photos: int
    """Photos with at least one chain."""
    radius: float
    """The farthest image corner's distance from the principal point, pixels."""
    reason: str = ""
    """Why there is no evidence ('' where there is)."""
    curved: int = 0
    """Chains left out as bent beyond what any distortion in the search range straightens (curved things)."""

    @property
    def evident(self) -> bool:
        """Whether the lines measured the distortion."""
        return not self.reason and self.corner_shift is not None

    def k1(self, focal: float) -> float | None:
        """``SIMPLE_RADIAL``'s ``k1`` at focal length ``focal`` (pixels)."""
        return None if self.corner_shift is None else self.corner_shift * (focal / self.radius) ** 2

    def excludes(self, corner_shift: float, options: PlumbOptions) -> bool:
        """Whether a fit whose distortion is ``corner_shift`` lies more than ``agree_sd`` deviations (at least
        ``min_sd``) from the lines'."""
        return self.evident and abs(corner_shift - self.corner_shift) > options.agree_sd * max(self.sd, options.min_sd)

    def prefers(self, ours: float, other: float, options: PlumbOptions) -> bool:
        """Whether the lines side with a fit of distortion ``ours`` against one of ``other`` (corner shifts): they
        lie nearer ``ours`` and exclude ``other`` (:meth:`excludes`)."""
        return self.excludes(other, options) and abs(ours - self.corner_shift) < abs(other - self.corner_shift)

    def describe(self) -> str:
        """``k1 r^2 = -0.056 +- 0.004 (corner shift, 214 lines in 20 photos)`` or why there is none."""
        curved = f", {self.curved} curved left out" if self.curved else ""
        if not self.evident:
            return f"no evidence ({self.reason}; {self.lines} lines in {self.photos} photos{curved})"
        return (f"{100 * self.corner_shift:+.1f} +- {100 * self.sd:.1f} % at the corners "
                f"({self.corner_shift * self.radius:+.1f} px; {self.lines} lines in {self.photos} photos{curved})")


def corner_shift(k1: float, focal: float, radius: float) -> float:
    """``k1 r^2`` for ``SIMPLE_RADIAL``'s ``k1`` at ``focal`` and the farthest corner ``radius`` pixels out."""
    return k1 * (radius / focal) ** 2


def corner_radius(width: int, height: int, principal_point: tuple[float, float]) -> float:
    """The farthest image corner's distance from ``principal_point``, pixels."""
    cx, cy = principal_point
    return max(math.hypot(x - cx, y - cy) for x in (0.0, float(width)) for y in (0.0, float(height)))


def _line_residuals(points: np.ndarray, index: np.ndarray, count: int) -> np.ndarray:
    """Mean squared distance of each chain's points from its total-least-squares line: (count,).

    Args:
        points: (N, 2) the points of every chain.
        index: (N,) each point's chain, in 0..count-1.
        count: Number of chains.
    """
    n = np.bincount(index, minlength=count).astype(np.float64)
    mean = np.stack([np.bincount(index, points[:, k], count) for k in (0, 1)], axis=1) / n[:, None]
    d = points - mean[index]
    sxx, syy, sxy = (np.bincount(index, w, count) / n for w in (d[:, 0] ** 2, d[:, 1] ** 2, d[:, 0] * d[:, 1]))
    return np.maximum((sxx + syy) / 2 - np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2), 0.0)


def _scaled_residuals(points: np.ndarray, index: np.ndarray, count: int, k1: float, camera: np.ndarray,
                      noise_px: float) -> np.ndarray:
    """Each chain's mean squared distance from its straight line over ``noise_px^2`` once one photo's chains
    are undistorted with ``k1`` (``camera``: K (3, 3)): (count,)."""
    import cv2

    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-10)
    ideal = cv2.undistortPoints(points.reshape(-1, 1, 2), camera, np.array([k1, 0.0, 0.0, 0.0]),
                                criteria=criteria).reshape(-1, 2) * camera[0, 0]
    return _line_residuals(ideal, index, count) / noise_px**2


def _photo_cost(points: np.ndarray, index: np.ndarray, count: int, k1: float, camera: np.ndarray,
                noise_px: float) -> float:
    """The summed chain scores of one photo's chains undistorted with ``k1`` (``camera``: K (3, 3))."""
    scaled = _scaled_residuals(points, index, count, k1, camera, noise_px)
    return float(np.sum(scaled / (1.0 + scaled)))


def _bent_beyond_range(scaled: np.ndarray) -> np.ndarray:
    """The chains that no distortion in the search range straightens (their residual, ``scaled`` (grid, count)
    over the grid of corner shifts, least at either end of the range and lower there than at its middle):
    curved things (the top of a dome, an arch's flank, a round table's rim), which bend more than a lens could
    bend a straight edge where they lie. (count,) bool."""
    best = np.argmin(scaled, axis=0)
    at_end = (best == 0) | (best == len(scaled) - 1)
    return at_end & (scaled[best, np.arange(scaled.shape[1])] < scaled[len(scaled) // 2] - 1e-6)


def _straight_chains(image: np.ndarray, k1s: np.ndarray, camera: np.ndarray,
                     options: PlumbOptions) -> tuple[Edges, np.ndarray, int]:
    """``image``'s chains (:func:`~photogrammetry.sfm.plumb_edges.photo_edges`) but those :func:`_bent_beyond_range`, their residuals undistorted by
    each of ``k1s`` (:func:`_scaled_residuals`: (len(k1s), chains)), and how many were left out as curved."""
    photo = photo_edges(image, options)
    if not photo.count:
        return photo, np.zeros((len(k1s), 0)), 0
    scaled = np.array([_scaled_residuals(photo.points, photo.index, photo.count, k1, camera, options.noise_px)
                       for k1 in k1s])
    straight = ~_bent_beyond_range(scaled)
    return photo.keep(straight), scaled[:, straight], photo.count - int(np.sum(straight))


def measure(images: Iterable[np.ndarray], focal: float, principal_point: tuple[float, float],
            options: PlumbOptions, seed: int = 0) -> PlumbFit:
    """The radial distortion that makes the photos' straight edges straightest.

    Args:
        images: Grey photos of one camera (H, W) uint8, all of the size ``principal_point`` belongs to.
        focal: The camera's focal length, pixels (only converts the grid to ``k1``).
        principal_point: ``(cx, cy)``, pixels.
        options: The plumb-line options.
        seed: Seed of the bootstrap.
    """
    camera = np.array([[focal, 0.0, principal_point[0]], [0.0, focal, principal_point[1]], [0.0, 0.0, 1.0]])
    grid = np.linspace(-options.max_corner_shift, options.max_corner_shift, 201)
    photos, scores, shape, curved = [], [], None, 0
    for image in images:
        shape = image.shape[:2]
        photo, scaled, left_out = _straight_chains(image, grid * (focal / corner_radius(
            shape[1], shape[0], principal_point)) ** 2, camera, options)
        curved += left_out
        if photo.count:
            photos.append(photo)
            scores.append(scaled)
    radius = corner_radius(shape[1], shape[0], principal_point) if shape else 1.0
    lines = sum(p.count for p in photos)
    if lines < options.min_lines or len(photos) < options.min_photos:
        return PlumbFit(None, None, lines, len(photos), radius,
                        f"fewer than {options.min_lines} lines or {options.min_photos} photos with lines", curved)
    to_k1 = (focal / radius) ** 2
    costs = np.array([np.sum(x / (1.0 + x), axis=1) for x in scores])
    best = _refined(photos, costs.sum(axis=0), grid, camera, to_k1, options.noise_px)
    weights = np.random.default_rng(seed).multinomial(len(photos), np.full(len(photos), 1 / len(photos)),
                                                      size=options.bootstrap)
    resampled = grid[np.argmin(weights @ costs, axis=1)]
    sd = float(np.std(resampled))
    reason = ""
    if np.argmin(costs.sum(axis=0)) in (0, len(grid) - 1):
        reason = f"straightest at the end of the search range (corner shift {best:+.3f})"
    elif sd > options.max_sd:
        reason = f"the photos disagree (sd {100 * sd:.1f} % at the corners)"
    return PlumbFit(best, sd, lines, len(photos), radius, reason, curved)


def _refined(photos: list[Edges], total: np.ndarray, grid: np.ndarray, camera: np.ndarray, to_k1: float,
             noise_px: float) -> float:
    """The grid's best corner shift refined between its neighbours (scipy's bounded scalar search)."""
    from scipy.optimize import minimize_scalar

    i = int(np.argmin(total))
    if i in (0, len(grid) - 1):
        return float(grid[i])

    def cost(e: float) -> float:
        return sum(_photo_cost(p.points, p.index, p.count, e * to_k1, camera, noise_px) for p in photos)

    return float(minimize_scalar(cost, bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                                 options={"xatol": 1e-5}).x)


def fit_corner_shift(camera: pycolmap.Camera, radius: float) -> float:
    """The corner shift (see the module) of a COLMAP camera's distortion: how much it moves the point
    ``radius`` pixels out from the principal point (towards the farthest corner), as a fraction of ``radius``."""
    centre = np.array([camera.principal_point_x, camera.principal_point_y])
    corner = np.where(centre < (camera.width / 2, camera.height / 2), (camera.width, camera.height), 0.0)
    out = radius * (corner - centre) / np.linalg.norm(corner - centre)
    ray = np.array([[out[0] / camera.focal_length_x, out[1] / camera.focal_length_y, 1.0]])
    return float(np.linalg.norm(np.asarray(camera.img_from_cam(ray))[0] - centre) / radius - 1.0)


def camera_lines(model: pycolmap.Reconstruction, camera_id: int, images: Path, options: PlumbOptions) -> PlumbFit:
    """:func:`measure` on the registered photos of ``model``'s camera ``camera_id`` found in ``images`` (at most
    ``max_photos``, evenly spread in name order), at its focal length and principal point."""
    camera = model.camera(camera_id)
    names = sorted(model.image(i).name for i in model.reg_image_ids() if model.image(i).camera_id == camera_id)
    names = [n for n in names[::max(1, math.ceil(len(names) / options.max_photos))] if (images / n).is_file()]
    return measure(_camera_photos(images, names, camera.width, camera.height), camera.mean_focal_length(),
                   (camera.principal_point_x, camera.principal_point_y), options)


def _camera_photos(images: Path, names: list[str], width: int, height: int) -> Iterable[np.ndarray]:
    """The photos ``names`` in ``images`` in grey, those OpenCV cannot read or of another size than the
    camera's (``width`` x ``height``) left out: the lines are a check, never a reason to fail."""
    for name in names:
        try:
            image = read_gray(images / name)
        except ValueError as e:
            log.debug("straight lines: %s left out (%s)", name, e)
            continue
        if image.shape[:2] == (height, width):
            yield image
        else:
            log.debug("straight lines: %s left out (%d x %d, its camera %d x %d)", name, image.shape[1],
                      image.shape[0], width, height)


def lens_checks(free: pycolmap.Reconstruction, held: pycolmap.Reconstruction, images: Path,
                options: PlumbOptions) -> dict[int, LensCheck]:
    """What the photos' straight edges (:func:`camera_lines`; photos not in ``images`` left out) say of each
    camera's distortion in ``free`` against its distortion in ``held`` (:meth:`PlumbFit.prefers`), by camera id;
    each camera's measurement logged beside the two fits'. ``decided``: the lines side with the free fit for
    every camera (:func:`confirms_free`), so that it is kept on their word."""
    checks = {}
    for camera_id, camera in free.cameras.items():
        fit = camera_lines(free, camera_id, images, options)
        ours, other = fit_corner_shift(camera, fit.radius), fit_corner_shift(held.camera(camera_id), fit.radius)
        sides = "free" if fit.prefers(ours, other, options) else "held" if fit.prefers(other, ours, options) else (
            "neither")
        verdict = {"free": "they side with the free fit", "held": "they side with the held fit",
                   "neither": "they do not tell the two apart"}[sides]
        k1 = fit.k1(camera.mean_focal_length())
        log.info("lens distortion of camera %d from the photos' straight lines: %s%s; the fits move the corners by "
                 "%+.1f %% free (focal length %.1f px, k1 %+.4f) and %+.1f %% held (%.1f px): %s", camera_id,
                 fit.describe(), "" if k1 is None else f", k1 {k1:+.4f} at the free fit's focal length", 100 * ours,
                 camera.mean_focal_length(), _k1(camera), 100 * other,
                 held.camera(camera_id).mean_focal_length(), verdict)
        checks[int(camera_id)] = LensCheck(
            corner_shift=_rounded(fit.corner_shift), corner_shift_sd=_rounded(fit.sd), radius_px=round(fit.radius, 3),
            lines=fit.lines, photos=fit.photos, reason=fit.reason, free_corner_shift=round(ours, 6),
            held_corner_shift=round(other, 6), sides_with=sides, decided=False)
    decided = confirms_free(checks)
    return {i: dataclasses.replace(c, decided=decided) for i, c in checks.items()}


def confirms_free(checks: dict[int, LensCheck]) -> bool:
    """Whether the lines of :func:`lens_checks` side with the free fit for every camera."""
    return bool(checks) and all(c.sides_with == "free" for c in checks.values())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _k1(camera: pycolmap.Camera) -> float:
    """The camera's first distortion parameter (0 for a model without one)."""
    extra = camera.extra_params_idxs()
    return float(camera.params[extra[0]]) if len(extra) else 0.0
