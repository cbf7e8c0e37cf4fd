"""Radial brightness fall-off (vignetting) of the cameras, as the photometric levelling fits it.

A lens darkens a photo towards its corners by a factor that depends on the distance ``r`` from
the principal point (natural cos^4 fall-off, mechanical vignetting). Per camera we model

    log V(r) = b1 r^2 + b2 r^4 + b3 r^6,      r = distance / half diagonal

(Goldman 2010; Metashape's vignetting calibration is the same even polynomial). Undone on
every photo, a surface point seen near the centre of one photo and in the corner of another
gets one colour, and the texture has no blotches where the selected photos change. The
correction divides by ``V(r) / V_ref``, with ``V_ref`` the mean fall-off where the photos show
the surface: the texture keeps the brightness the photos give it on average (an object in the
middle of the frames keeps its brightness there; a facade filling them, the frames' mean).

Views share a fall-off when they share a camera (same size and calibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photogrammetry.meshing.views import CameraView

DEGREE = 3
"""Terms of the even polynomial in ``r`` (r^2, r^4, r^6)."""


def camera_groups(views: Sequence[CameraView]) -> np.ndarray:
    """(V,) index of each view's camera: views with the same size and calibration share one."""
    keys = [(view.width, view.height, *np.round(view.K[:2].ravel(), 3)) for view in views]
    lookup: dict[tuple, int] = {}
    return np.array([lookup.setdefault(key, len(lookup)) for key in keys], np.int64)


def _half_diagonal2(view: CameraView) -> float:
    """Squared half diagonal of the image: ``r = 1`` at its corners."""
    return (view.width**2 + view.height**2) / 4.0


def radius2(view: CameraView, pix: np.ndarray) -> np.ndarray:
    """(N,) squared distances of pixels (N, 2) of ``view`` from its principal point over the half diagonal."""
    return ((pix[:, 0] - view.K[0, 2]) ** 2 + (pix[:, 1] - view.K[1, 2]) ** 2) / _half_diagonal2(view)


def radius_basis(r2: np.ndarray) -> np.ndarray:
    """(..., DEGREE) powers r^2, r^4, ... of squared radii (...)."""
    return np.stack([r2 ** (k + 1) for k in range(DEGREE)], axis=-1)


def log_falloff(r2: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``log V`` at squared radii of any shape, for one camera's coefficients (DEGREE,), summed term
    by term (no (..., DEGREE) array for whole images)."""
    return sum(c * r2 ** (k + 1) for k, c in enumerate(coefficients))


@dataclass(frozen=True, kw_only=True, eq=False)
class Vignetting:
    """The fitted fall-off of every camera."""

    groups: np.ndarray
    """(V,) camera of each view."""
    coefficients: np.ndarray
    """(C, DEGREE) ``b`` of each camera's ``log V``; zeros: no fall-off."""
    reference: np.ndarray
    """(C,) ``V_ref`` of each camera: the mean fall-off where its photos show the surface."""
    max_radius2: np.ndarray
    """(C,) the largest ``r^2`` observed per camera: the polynomial is not extrapolated beyond it
    (further out, ``V`` stays at its value there)."""

    def log_falloff(self, index: int, view: CameraView, pix: np.ndarray) -> np.ndarray:
        """(N,) ``log V`` at pixels (N, 2) of view ``index``."""
        group = self.groups[index]
        return log_falloff(np.minimum(radius2(view, pix), self.max_radius2[group]), self.coefficients[group])

    def flat_field(self, index: int, view: CameraView) -> np.ndarray:
        """(H, W) float32 gains ``V_ref / V`` that remove the fall-off of view ``index``."""
        group = self.groups[index]
        across = (np.arange(view.width) + 0.5 - view.K[0, 2]) ** 2 / _half_diagonal2(view)
        down = (np.arange(view.height) + 0.5 - view.K[1, 2]) ** 2 / _half_diagonal2(view)
        r2 = np.minimum(down[:, None] + across[None, :], self.max_radius2[group])  # separable: no pixel grid
        return (self.reference[group] * np.exp(-log_falloff(r2, self.coefficients[group]))).astype(np.float32)

    def corner_falloff(self) -> np.ndarray:
        """(C,) ``V`` at the image corners (``r = 1``, or the largest radius observed) relative to the
        centre, per camera."""
        r2 = np.minimum(self.max_radius2, 1.0)
        return np.exp(np.einsum("ck,ck->c", radius_basis(r2), self.coefficients))
