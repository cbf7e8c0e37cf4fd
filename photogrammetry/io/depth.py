"""The depth artifact: per-view depth, normal and confidence maps and their summary.

Files in ``<workspace>/depth/<key>/`` (one of each per view ``<name>``, the image name as in the
sparse model, which may contain ``/``):

- ``depth/<name>.npy``: ``(H, W)`` float32 depth along the camera z axis, in the model's units;
  0 where no depth survived filtering. This is the ``depth_maps`` output that
  ``photogrammetry eval`` reads (:func:`photogrammetry.evaluation.depth_metrics.find_depth_maps`);
- ``normals/<name>.npy``: ``(H, W, 3)`` float16 unit normals in the camera frame (``+z``
  forward, ``+y`` down), facing the camera; 0 where the depth is 0;
- ``confidence/<name>.npy``: ``(H, W)`` float16 in ``[0, 1]`` (before filtering, every pixel);
- ``colmap/``: the same depth and normal maps as a COLMAP dense workspace (COLMAP's binary arrays
  and links to the undistort artifact's images and model; :mod:`photogrammetry.io.colmap_dense`);
- ``depth.json``: :class:`DepthSummary` with one :class:`DepthView` per view: the size of its
  maps, the intrinsics at that size, the ``cam_from_world`` pose, the depth range searched,
  the source views and the fraction of pixels kept.

Maps may be smaller than the undistorted images (``depth.max_image_size``); ``K`` is given at
the maps' size (COLMAP pixel convention: the top-left pixel's centre is ``(0.5, 0.5)``, so
``K_map = diag(W_map / W, H_map / H, 1) @ K_image``).

Depths and poses are in the units of the undistorted model, which ``depth.json`` states
(``units``, copied from the undistort artifact; absent from artifacts written before it was
recorded). The fused cloud is in :mod:`photogrammetry.io.fusion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photogrammetry.io.jsonio import read_json, write_bytes_atomic, write_json
from photogrammetry.io.scale import Units

DEPTH_SUMMARY = "depth.json"
"""Name of the depth artifact's summary."""


@dataclass(frozen=True, kw_only=True)
class DepthView:
    """One view of the depth artifact."""

    name: str
    """Image name, as in the sparse model."""
    image: str
    """The undistorted image the maps were computed from, relative to the artifact folder."""
    width: int
    """Width of the maps."""
    height: int
    """Height of the maps."""
    K: tuple[tuple[float, ...], ...]
    """3x3 intrinsics at the maps' size."""
    R: tuple[tuple[float, ...], ...]
    """3x3 rotation of ``cam_from_world``."""
    t: tuple[float, ...]
    """Translation of ``cam_from_world``."""
    depth_range: tuple[float, float]
    """Near and far depth searched."""
    sources: tuple[str, ...]
    """Source views, best first."""
    kept: float
    """Fraction of the pixels with a depth after filtering."""
    mask: str | None = None
    """Path of the object mask that was applied, if any."""


@dataclass(frozen=True, kw_only=True)
class DepthSummary:
    """What the depth stage did, in ``depth.json``."""

    method: str
    """Registry name of the MVS method."""
    learned: bool
    """Whether the method uses learned weights."""
    views: tuple[DepthView, ...]
    """Every view with maps, by name."""
    units: Units | None = None
    """Length unit of the depths and poses (the undistort artifact's); ``None`` in artifacts written
    before it was recorded (their undistort artifact says)."""


@dataclass(frozen=True)
class DepthResult:
    """The depth artifact, loaded."""

    root: Path
    """Artifact folder."""
    summary: DepthSummary
    """Contents of ``depth.json``."""

    def image_path(self, view: DepthView) -> Path:
        """The undistorted image of ``view``."""
        return (self.root / view.image).resolve()

    def depth_path(self, name: str) -> Path:
        """Depth map file of view ``name``."""
        return self.root / "depth" / f"{name}.npy"

    def normal_path(self, name: str) -> Path:
        """Normal map file of view ``name``."""
        return self.root / "normals" / f"{name}.npy"

    def confidence_path(self, name: str) -> Path:
        """Confidence map file of view ``name``."""
        return self.root / "confidence" / f"{name}.npy"


def save_array(path: Path, array: np.ndarray) -> None:
    """Write one ``.npy`` map atomically (no pickle)."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


def load_array(path: Path) -> np.ndarray:
    """Read one ``.npy`` map."""
    return np.load(path, allow_pickle=False)


def save_maps(folder: Path, name: str, depth: np.ndarray, normals: np.ndarray, confidence: np.ndarray) -> None:
    """Write the three maps of one view: depth (H, W), normals (H, W, 3), confidence (H, W)."""
    save_array(folder / "normals" / f"{name}.npy", normals.astype(np.float16))
    save_array(folder / "confidence" / f"{name}.npy", np.clip(confidence, 0, 1).astype(np.float16))
    save_array(folder / "depth" / f"{name}.npy", depth.astype(np.float32))


def _tuple2(rows) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in row) for row in rows)


def depth_view_from_json(raw: dict) -> DepthView:
    """A :class:`DepthView` from its JSON object."""
    return DepthView(**{**raw, "K": _tuple2(raw["K"]), "R": _tuple2(raw["R"]), "t": tuple(raw["t"]),
                        "depth_range": tuple(raw["depth_range"]), "sources": tuple(raw["sources"])})


def save_depth_summary(folder: Path, summary: DepthSummary) -> None:
    """Write ``depth.json``."""
    write_json(folder / DEPTH_SUMMARY, summary)


def load_depth(folder: Path) -> DepthResult:
    """Read a depth artifact folder."""
    raw = read_json(folder / DEPTH_SUMMARY)
    views = tuple(depth_view_from_json(v) for v in raw["views"])
    return DepthResult(root=folder, summary=DepthSummary(method=raw["method"], learned=raw["learned"], views=views,
                                                         units=raw.get("units")))
