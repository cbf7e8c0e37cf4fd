"""On-disk layout of a rendered synthetic scene, with its writers and readers.

Layout (``<view>`` is ``view_000``, ``view_001``, ...)::

    <root>/
      images/<view>.jpg        8-bit RGB JPEG (quality 92, 4:2:0), EXIF Make/Model
                               "photogrammetry-synthetic", FocalLength (mm),
                               FocalLengthIn35mmFilm, FocalPlaneX/YResolution (px per cm)
      gt/sparse/               COLMAP text model: PINHOLE camera, cam_from_world poses,
                               sample surface points with their tracks
      gt/scene_mesh.ply        world-frame parts as one mesh (binary PLY, float32 xyz + normals)
      gt/object_mesh.ply       the object alone (object scenes only)
      gt/depth/<view>.png      16-bit: depth along the camera z axis = value * depth_scale, 0 = none
      gt/normals/<view>.png    8-bit RGB: camera-frame unit normal n = rgb / 255 * 2 - 1, (0,0,0) = none
      gt/masks/<view>.png      8-bit: 255 = object, 0 = elsewhere (object scenes only)
      gt/scene.json            metadata (see :class:`SceneMeta`); written last

Pixel ``(row, col)`` of every ground-truth map is the image pixel whose centre is at
``(col + 0.5, row + 0.5)`` in COLMAP's pixel convention. World units are metres.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from photogrammetry.synthetic.geometry import PIXEL_PITCH_MM, PinholeCamera
from photogrammetry.synthetic.mesh import Mesh

CAMERA_MAKE = "photogrammetry-synthetic"
"""EXIF Make and Model of every rendered image."""
JPEG_QUALITY = 92
"""JPEG quality of the rendered images."""
_RESOLUTION_UNIT_CM = 3


@dataclass(frozen=True)
class SceneLayout:
    """Paths of one scene's files under ``root``."""

    root: Path
    """Scene folder."""

    @property
    def images(self) -> Path:
        """Folder of the JPEG images."""
        return self.root / "images"

    @property
    def gt(self) -> Path:
        """Folder of the ground truth."""
        return self.root / "gt"

    @property
    def sparse(self) -> Path:
        """Folder of the ground-truth COLMAP text model."""
        return self.gt / "sparse"

    @property
    def scene_json(self) -> Path:
        """Metadata file, written last."""
        return self.gt / "scene.json"

    @property
    def scene_mesh(self) -> Path:
        """Mesh of all world-frame parts."""
        return self.gt / "scene_mesh.ply"

    @property
    def object_mesh(self) -> Path:
        """Mesh of the object alone."""
        return self.gt / "object_mesh.ply"

    @property
    def depth_dir(self) -> Path:
        """Folder of the depth PNGs."""
        return self.gt / "depth"

    @property
    def normals_dir(self) -> Path:
        """Folder of the normal-map PNGs."""
        return self.gt / "normals"

    @property
    def masks_dir(self) -> Path:
        """Folder of the object-mask PNGs."""
        return self.gt / "masks"

    def image(self, view: str) -> Path:
        """JPEG image of a view."""
        return self.images / f"{view}.jpg"

    def depth(self, view: str) -> Path:
        """16-bit depth PNG of a view."""
        return self.depth_dir / f"{view}.png"

    def normals(self, view: str) -> Path:
        """Normal-map PNG of a view."""
        return self.normals_dir / f"{view}.png"

    def mask(self, view: str) -> Path:
        """Object-mask PNG of a view."""
        return self.masks_dir / f"{view}.png"


@dataclass(frozen=True, kw_only=True)
class SceneMeta:
    """Contents of ``gt/scene.json``."""

    kind: str
    """Scene kind: ``turntable``, ``orbit``, ``facade`` or ``room``."""
    seed: int
    """Seed of the scene."""
    generator_version: str
    """Version of the generator that rendered it."""
    image_size: tuple[int, int]
    """Image ``(width, height)`` in pixels."""
    num_views: int
    """Number of views."""
    views: tuple[str, ...]
    """View names, in order (COLMAP image id = index + 1)."""
    depth_scale: float
    """Metres per unit of the 16-bit depth PNGs."""
    scene_extent: float
    """Diagonal of the bounding box of ``scene_mesh.ply``, metres."""
    scene_bbox_min: tuple[float, float, float]
    """Minimum corner of the scene mesh's bounding box."""
    scene_bbox_max: tuple[float, float, float]
    """Maximum corner of the scene mesh's bounding box."""
    object_bbox_min: tuple[float, float, float] | None
    """Minimum corner of the object's bounding box (``None`` without an object)."""
    object_bbox_max: tuple[float, float, float] | None
    """Maximum corner of the object's bounding box (``None`` without an object)."""
    units: str
    """World units (``metres``)."""
    world_frame: str
    """What the ground-truth world frame is attached to (``object`` or ``scene``)."""
    depth_covers: str
    """Which surfaces the depth, normal and mesh ground truth covers."""
    camera: dict[str, Any]
    """Intrinsics and the virtual sensor: model, width, height, fx, fy, cx, cy, sensor_width_mm, ..."""
    notes: tuple[str, ...]
    """Free-text remarks on conventions."""
    spec: dict[str, Any]
    """The resolved scene specification that produced the scene."""


def write_scene_meta(path: Path, meta: SceneMeta) -> None:
    """Write ``scene.json`` (sorted keys, two-space indent, trailing newline)."""
    path.write_text(json.dumps(asdict(meta), indent=2, sort_keys=True) + "\n")


def read_scene_meta(scene_dir: Path) -> SceneMeta:
    """Read ``gt/scene.json`` of the scene in ``scene_dir``.

    Args:
        scene_dir: Root folder of a rendered scene.

    Returns:
        The metadata.
    """
    raw = json.loads(SceneLayout(Path(scene_dir)).scene_json.read_text())
    for key in (
        "image_size",
        "views",
        "scene_bbox_min",
        "scene_bbox_max",
        "object_bbox_min",
        "object_bbox_max",
        "notes",
    ):
        raw[key] = tuple(raw[key]) if raw[key] is not None else None
    return SceneMeta(**raw)


def _rational(value: float) -> IFDRational:
    """EXIF rational close to ``value`` (denominator at most 10000)."""
    fraction = Fraction(value).limit_denominator(10000)
    return IFDRational(fraction.numerator, fraction.denominator)


def exif_bytes(camera: PinholeCamera) -> bytes:
    """EXIF block of a rendered image: make/model and focal length consistent with ``camera``."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.Base.Model] = CAMERA_MAKE
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.FocalLength] = _rational(camera.focal_mm)
    sub[ExifTags.Base.FocalLengthIn35mmFilm] = int(round(camera.focal_35mm))
    pixels_per_cm = _rational(10.0 / PIXEL_PITCH_MM)
    sub[ExifTags.Base.FocalPlaneXResolution] = pixels_per_cm
    sub[ExifTags.Base.FocalPlaneYResolution] = pixels_per_cm
    sub[ExifTags.Base.FocalPlaneResolutionUnit] = _RESOLUTION_UNIT_CM
    return exif.tobytes()


def write_jpeg(path: Path, image: np.ndarray, camera: PinholeCamera) -> None:
    """Write an ``(H, W, 3)`` ``uint8`` image as a deterministic JPEG with EXIF focal length."""
    Image.fromarray(image).save(
        path,
        format="JPEG",
        quality=JPEG_QUALITY,
        subsampling="4:2:0",
        optimize=False,
        progressive=False,
        exif=exif_bytes(camera),
    )


def focal_px_from_exif(path: Path) -> float | None:
    """Focal length in pixels from a JPEG's EXIF.

    Uses FocalLength with FocalPlaneXResolution when both are present, else
    FocalLengthIn35mmFilm (36 mm = the long image side).

    Args:
        path: Image file.

    Returns:
        Focal length in pixels, or ``None`` without usable EXIF.
    """
    with Image.open(path) as img:
        sub = img.getexif().get_ifd(ExifTags.IFD.Exif)
        long_side = max(img.size)
    focal_mm = sub.get(ExifTags.Base.FocalLength)
    resolution = sub.get(ExifTags.Base.FocalPlaneXResolution)
    unit_mm = {2: 25.4, _RESOLUTION_UNIT_CM: 10.0, 4: 1.0}.get(sub.get(ExifTags.Base.FocalPlaneResolutionUnit, 2))
    if focal_mm and resolution and unit_mm:
        return float(focal_mm) * float(resolution) / unit_mm
    focal_35 = sub.get(ExifTags.Base.FocalLengthIn35mmFilm)
    return float(focal_35) * long_side / 36.0 if focal_35 else None


def _save_png(path: Path, array: np.ndarray) -> None:
    """Write a PNG with maximal zlib compression (deterministic for a given Pillow build)."""
    Image.fromarray(array).save(path, format="PNG", compress_level=9)


def write_depth(path: Path, depth: np.ndarray, depth_scale: float) -> None:
    """Write a ``(H, W)`` depth map in metres as 16-bit PNG, value = round(depth / depth_scale)."""
    value = np.floor(depth / depth_scale + 0.5)
    if value.max(initial=0.0) > 65535:
        raise ValueError(f"depth {depth.max():.3f} m does not fit 16 bits at depth_scale {depth_scale}")
    _save_png(path, value.astype(np.uint16))


def load_depth(path: Path, depth_scale: float) -> np.ndarray:
    """Read a 16-bit depth PNG.

    Args:
        path: Depth PNG.
        depth_scale: Metres per unit (``SceneMeta.depth_scale``).

    Returns:
        Depth along the camera z axis in metres, shape ``(H, W)``, ``float32``; 0 = no surface.
    """
    with Image.open(path) as img:
        return (np.asarray(img).astype(np.float64) * depth_scale).astype(np.float32)


def write_normals(path: Path, normals: np.ndarray) -> None:
    """Write ``(H, W, 3)`` unit normals (0 where none) as 8-bit RGB, rgb = round((n + 1) / 2 * 255)."""
    valid = np.any(normals != 0.0, axis=-1, keepdims=True)
    rgb = np.where(valid, np.floor((normals + 1.0) * 127.5 + 0.5), 0.0)
    _save_png(path, rgb.astype(np.uint8))


def load_normals(path: Path) -> np.ndarray:
    """Read a normal map.

    Args:
        path: Normal-map PNG.

    Returns:
        Camera-frame unit normals, shape ``(H, W, 3)``, ``float32``; 0 where there is no surface.
    """
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB")).astype(np.float32)
    n = rgb / 127.5 - 1.0
    length = np.sqrt(np.sum(n * n, axis=-1, keepdims=True))
    valid = np.any(rgb > 0.0, axis=-1, keepdims=True)
    return np.where(valid, n / np.maximum(length, 1e-6), 0.0).astype(np.float32)


def write_mask(path: Path, mask: np.ndarray) -> None:
    """Write a ``(H, W)`` boolean mask as 8-bit PNG (255 = object)."""
    _save_png(path, np.where(mask, 255, 0).astype(np.uint8))


def load_mask(path: Path) -> np.ndarray:
    """Read an object mask: shape ``(H, W)``, ``bool``, True on the object."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L")) > 127


def write_ply(path: Path, mesh: Mesh) -> None:
    """Write a mesh as binary little-endian PLY (float32 positions and normals, int32 indices)."""
    vertex = np.empty(len(mesh.vertices), dtype=[(c, "<f4") for c in ("x", "y", "z", "nx", "ny", "nz")])
    for i, c in enumerate(("x", "y", "z")):
        vertex[c] = mesh.vertices[:, i]
        vertex["n" + c] = mesh.normals[:, i]
    face = np.empty(len(mesh.triangles), dtype=[("count", "u1"), ("index", "<i4", (3,))])
    face["count"], face["index"] = 3, mesh.triangles
    header = (
        "\n".join(
            [
                "ply",
                "format binary_little_endian 1.0",
                f"comment {CAMERA_MAKE}",
                f"element vertex {len(vertex)}",
                *[f"property float {c}" for c in vertex.dtype.names],
                f"element face {len(face)}",
                "property list uchar int vertex_indices",
                "end_header",
            ]
        )
        + "\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(vertex.tobytes())
        f.write(face.tobytes())
