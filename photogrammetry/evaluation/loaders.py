"""Ground-truth loaders: COLMAP models, sample scenes, Middlebury, Strecha, RGB-D sequences; format detection.

Sample-scene layout (``load_sample_scene``)::

    <scene>/images/<view>.jpg
    <scene>/gt/sparse/{cameras,images,points3D}.txt   COLMAP model, PINHOLE cameras
    <scene>/gt/scene_mesh.ply, gt/object_mesh.ply     (object mesh for object scenes)
    <scene>/gt/depth/<view>.png     uint16, z depth = value * depth_scale, 0 = none
    <scene>/gt/normals/<view>.png   camera-frame normal n = rgb / 255 * 2 - 1
    <scene>/gt/masks/<view>.png     255 = object
    <scene>/gt/scene.json           "depth_scale", "extent", "kind", "object_bbox", ...

RGB-D sequence layout (``load_rgbd``; e.g. the DeepVideoMVS office set)::

    <set>/images/<name>                   the photos, undistorted
    <set>/gt/cams/K.txt                   3x3 pinhole K shared by every view (OpenCV pixel convention)
    <set>/gt/cams/poses_c2w.txt           per line: <name> and a row-major 4x4 camera-to-world, metres
    <set>/gt/depth/<stem>.png             sensor z depth, uint16 millimetres, 0 = none
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.evaluation.benchmark_formats import (
    find_images_dir,
    image_size,
    read_middlebury_bbox,
    read_middlebury_par,
    read_rgbd_intrinsics,
    read_rgbd_poses,
    read_strecha_folder,
)
from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.ground_truth import (
    GroundTruth,
    GroundTruthFormatError,
    GTView,
    bbox_diagonal,
    read_depth_png,
)
from photogrammetry.evaluation.raycast import read_mesh

logger = logging.getLogger(__name__)

_PINHOLE_MODELS = ("SIMPLE_PINHOLE", "PINHOLE")


def read_colmap_model(path: Path) -> pycolmap.Reconstruction:
    """Read a COLMAP model folder (text or binary) or raise an error naming it."""
    try:
        return pycolmap.Reconstruction(str(path))
    except (ValueError, RuntimeError) as err:
        raise GroundTruthFormatError(f"{path}: cannot read COLMAP model ({err})") from err


def _colmap_camera(camera: pycolmap.Camera, where: str) -> PinholeCamera:
    """A pinhole camera from a COLMAP one; distortion parameters are ignored with a warning."""
    if camera.model.name not in _PINHOLE_MODELS:
        extra = camera.params[list(camera.extra_params_idxs())]
        if np.any(extra != 0):
            logger.warning("%s: camera model %s: distortion ignored", where, camera.model.name)
    return PinholeCamera(K=camera.calibration_matrix(), width=camera.width, height=camera.height)


def colmap_views(model: pycolmap.Reconstruction, source: Path, images_dir: Path | None) -> dict[str, GTView]:
    """Views of the registered images of a COLMAP model, by image name."""
    views = {}
    for image in model.images.values():
        if not image.has_pose:
            continue
        pose = image.cam_from_world()
        camera = _colmap_camera(model.cameras[image.camera_id], f"{source}: image {image.name}")
        path = images_dir / image.name if images_dir is not None else None
        views[image.name] = GTView(
            name=image.name,
            camera=camera,
            pose=CameraPose(R=pose.rotation.matrix(), t=pose.translation),
            image_path=path if path is not None and path.is_file() else None,
        )
    return views


def _extent(
    source: Path, views: dict[str, GTView], *, given: float | None, mesh: Path | None, bbox: np.ndarray | None
) -> float:
    """Scene extent: given, else the mesh's bounding box, else ``bbox``, else the cameras'."""
    if given is not None:
        return float(given)
    if mesh is not None:
        return bbox_diagonal(read_mesh(mesh)[0])
    if bbox is not None:
        return bbox_diagonal(bbox)
    logger.info("%s: no mesh or bounding box; scene extent taken from the camera centres", source)
    return bbox_diagonal(np.stack([v.pose.center for v in views.values()]))


def load_colmap(model_dir: Path, *, images_dir: Path | None = None, extent: float | None = None) -> GroundTruth:
    """Ground truth from a COLMAP model folder (text or binary); unregistered images are left out.

    Args:
        model_dir: folder with ``cameras``, ``images``, ``points3D`` (``.txt`` or ``.bin``).
        images_dir: folder of the photos (needed only for texture evaluation).
        extent: scene extent; default: bounding-box diagonal of the camera centres.
    """
    model_dir = Path(model_dir)
    views = colmap_views(read_colmap_model(model_dir), model_dir, images_dir)
    if not views:
        raise GroundTruthFormatError(f"{model_dir}: COLMAP model has no registered images")
    return GroundTruth(
        views=views,
        extent=_extent(model_dir, views, given=extent, mesh=None, bbox=None),
        source=model_dir,
        kind="colmap",
    )


def _object_bbox(meta: dict, where: Path) -> np.ndarray | None:
    """(2, 3) object box from ``object_bbox_min`` / ``_max`` or ``object_bbox``; ``None`` if absent."""
    if meta.get("object_bbox_min") is not None and meta.get("object_bbox_max") is not None:
        value = [meta["object_bbox_min"], meta["object_bbox_max"]]
    elif meta.get("object_bbox") is not None:
        value = meta["object_bbox"]
    else:
        return None
    try:
        bbox = np.asarray(value, dtype=np.float64).reshape(2, 3)
    except (TypeError, ValueError) as err:
        raise GroundTruthFormatError(f"{where}: object bounding box must be two [x, y, z] corners") from err
    return np.stack([bbox.min(axis=0), bbox.max(axis=0)])


def _read_scene_json(path: Path) -> dict:
    """The sample scene's ``scene.json`` as a dict, or an error naming it."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise GroundTruthFormatError(f"{path}: cannot read scene description ({err})") from err
    if not isinstance(meta, dict):
        raise GroundTruthFormatError(f"{path}: expected a JSON object")
    return meta


def _with_maps(view: GTView, gt_dir: Path) -> GTView:
    """The view with the paths of its depth, normal and mask PNGs that exist."""
    stem = Path(view.name).with_suffix(".png")
    paths = {
        key: gt_dir / folder / stem
        for key, folder in (("depth_path", "depth"), ("normal_path", "normals"), ("mask_path", "masks"))
    }
    existing = {key: (p if p.is_file() else None) for key, p in paths.items()}
    return GTView(name=view.name, camera=view.camera, pose=view.pose, image_path=view.image_path, **existing)


def load_sample_scene(scene_dir: Path) -> GroundTruth:
    """Ground truth of a synthetic sample scene (layout in the module docstring).

    ``scene.json`` keys read: ``depth_scale`` (needed when ``gt/depth`` exists),
    ``scene_extent`` or ``extent`` (else from the scene mesh), ``kind``, and the object's box as
    ``object_bbox_min`` + ``object_bbox_max`` or ``object_bbox`` (optional, may be null).
    """
    scene_dir = Path(scene_dir)
    gt_dir = scene_dir / "gt"
    meta = _read_scene_json(gt_dir / "scene.json")
    model = read_colmap_model(gt_dir / "sparse")
    views = {n: _with_maps(v, gt_dir) for n, v in colmap_views(model, gt_dir / "sparse", scene_dir / "images").items()}
    if not views:
        raise GroundTruthFormatError(f"{gt_dir / 'sparse'}: COLMAP model has no registered images")
    if (gt_dir / "depth").is_dir() and "depth_scale" not in meta:
        raise GroundTruthFormatError(f"{gt_dir / 'scene.json'}: 'depth_scale' missing but gt/depth exists")
    scene_mesh = gt_dir / "scene_mesh.ply" if (gt_dir / "scene_mesh.ply").is_file() else None
    object_mesh = gt_dir / "object_mesh.ply" if (gt_dir / "object_mesh.ply").is_file() else None
    bbox = _object_bbox(meta, gt_dir / "scene.json")
    given = meta.get("scene_extent", meta.get("extent"))
    extent = _extent(scene_dir, views, given=given, mesh=scene_mesh or object_mesh, bbox=bbox)
    return GroundTruth(
        views=views,
        extent=extent,
        source=scene_dir,
        kind=str(meta.get("kind", "sample_scene")),
        scene_mesh_path=scene_mesh,
        object_mesh_path=object_mesh,
        depth_scale=float(meta["depth_scale"]) if "depth_scale" in meta else None,
        object_bbox=bbox,
    )


def load_middlebury(
    par_file: Path, *, images_dir: Path | None = None, image_size: tuple[int, int] | None = None
) -> GroundTruth:
    """Ground truth from a Middlebury ``*_par.txt``; extent from the ``README.txt`` bounding box.

    Args:
        par_file: the calibration file.
        images_dir: the images (default: the file's folder or ``../images``); sizes are read there.
        image_size: (width, height) for images that cannot be found.
    """
    par_file = Path(par_file)
    images_dir = images_dir or find_images_dir([par_file.parent.parent / "images", par_file.parent])
    views = read_middlebury_par(par_file, images_dir=images_dir, image_size_hint=image_size)
    bbox = read_middlebury_bbox(par_file.parent / "README.txt")
    return GroundTruth(
        views=views,
        extent=_extent(par_file, views, given=None, mesh=None, bbox=bbox),
        source=par_file,
        kind="middlebury",
        object_bbox=bbox,
    )


def load_strecha(cameras_dir: Path, *, images_dir: Path | None = None, scale: float | None = None) -> GroundTruth:
    """Ground truth from a folder of Strecha ``<image name>.camera`` files.

    Args:
        cameras_dir: the folder of ``.camera`` files.
        images_dir: the images (default: ``../../images``, ``../images`` or the folder itself);
            K is rescaled to each image's actual size.
        scale: image size / calibrated size, for images that cannot be found.
    """
    cameras_dir = Path(cameras_dir)
    candidates = [cameras_dir.parent.parent / "images", cameras_dir.parent / "images", cameras_dir]
    views = read_strecha_folder(cameras_dir, images_dir=images_dir or find_images_dir(candidates), scale=scale)
    return GroundTruth(
        views=views,
        extent=_extent(cameras_dir, views, given=None, mesh=None, bbox=None),
        source=cameras_dir,
        kind="strecha",
    )


RGBD_DEPTH_SCALE = 1e-3
"""Metres per unit of an RGB-D sequence's depth PNGs (millimetres)."""


def _rgbd_view(name: str, K: np.ndarray, pose: CameraPose, folder: Path) -> GTView:
    """One view of an RGB-D sequence: size from its photo (else its depth map), depth PNG if any."""
    image, depth = folder / "images" / name, folder / "gt" / "depth" / Path(name).with_suffix(".png")
    sized = image if image.is_file() else depth if depth.is_file() else None
    if sized is None:
        raise GroundTruthFormatError(f"{folder}: neither the photo nor the depth map of {name!r} found")
    width, height = image_size(sized)
    return GTView(name=name, camera=PinholeCamera(K=K, width=width, height=height), pose=pose,
                  image_path=image if image.is_file() else None, depth_path=depth if depth.is_file() else None)


def sensor_extent(views: dict[str, GTView], *, stride: int = 8, percentile: float = 1.0) -> float | None:
    """Bounding-box diagonal of the sensor depth lifted to world, between the ``percentile`` and
    ``100 - percentile`` of each axis (sparse outliers left out); ``None`` without depth maps."""
    points = []
    for view in views.values():
        if view.depth_path is None:
            continue
        depth = read_depth_png(view.depth_path, RGBD_DEPTH_SCALE)[::stride, ::stride]
        rows, cols = np.nonzero(depth > 0)
        pixels = np.stack([cols * stride + 0.5, rows * stride + 0.5, np.ones(len(rows))])
        in_camera = (np.linalg.inv(view.camera.K) @ pixels) * depth[rows, cols]
        points.append((view.pose.R.T @ (in_camera - view.pose.t[:, None])).T)
    if not points or not sum(len(p) for p in points):
        return None
    stacked = np.concatenate(points)
    low, high = np.percentile(stacked, [percentile, 100 - percentile], axis=0)
    return float(np.linalg.norm(high - low))


def load_rgbd(folder: Path) -> GroundTruth:
    """Ground truth of an RGB-D sequence (layout in the module docstring): true cameras, sensor depth.

    The scene extent is that of the sensor's points (:func:`sensor_extent`), else of the cameras.
    """
    folder = Path(folder)
    cams = folder / "gt" / "cams"
    K = read_rgbd_intrinsics(cams / "K.txt")
    views = {name: _rgbd_view(name, K, pose, folder) for name, pose in read_rgbd_poses(cams / "poses_c2w.txt").items()}
    return GroundTruth(
        views=views,
        extent=_extent(folder, views, given=sensor_extent(views), mesh=None, bbox=None),
        source=folder,
        kind="rgbd",
        depth_scale=RGBD_DEPTH_SCALE,
    )


def _is_colmap_model(folder: Path) -> bool:
    """Whether ``folder`` holds a COLMAP model (``cameras`` and ``images``, text or binary)."""
    return any((folder / f"cameras{ext}").is_file() and (folder / f"images{ext}").is_file() for ext in (".txt", ".bin"))


def _detect_in_folder(path: Path) -> tuple[str, Path] | None:
    """The format of a folder and the path its loader takes, or ``None``."""
    if (path / "gt" / "scene.json").is_file():
        return "sample_scene", path
    if path.name == "gt" and (path / "scene.json").is_file():
        return "sample_scene", path.parent
    for folder, name in ((path, path.name), (path.parent, "gt"), (path.parent.parent, "cams")):
        if path.name == name and (folder / "gt" / "cams" / "poses_c2w.txt").is_file():
            return "rgbd", folder
    for folder in (path, path / "sparse", path / "sparse" / "0"):
        if _is_colmap_model(folder):
            return "colmap", folder
    for folder in (path, path / "gt"):
        pars = sorted(folder.glob("*_par.txt"))
        if len(pars) > 1:
            raise GroundTruthFormatError(f"{folder}: several *_par.txt files; pass one of {[p.name for p in pars]}")
        if pars:
            return "middlebury", pars[0]
    for folder in (path, path / "cameras", path / "gt" / "cameras"):
        if folder.is_dir() and any(folder.glob("*.camera")):
            return "strecha", folder
    return None


def detect_format(path: Path) -> tuple[str, Path]:
    """Which ground-truth format ``path`` holds.

    Returns:
        The format (``"sample_scene"``, ``"rgbd"``, ``"colmap"``, ``"middlebury"`` or
        ``"strecha"``) and the file or folder its loader takes.

    Raises:
        GroundTruthFormatError: when the path is missing or no format is recognised.
    """
    path = Path(path)
    if path.is_file():
        if path.name.endswith("_par.txt"):
            return "middlebury", path
        if path.suffix == ".camera":
            return "strecha", path.parent
        if path.name == "scene.json":
            return "sample_scene", path.parent.parent
        if path.name == "poses_c2w.txt":
            return "rgbd", path.parents[2]
    elif path.is_dir():
        found = _detect_in_folder(path)
        if found is not None:
            return found
    else:
        raise GroundTruthFormatError(f"{path}: ground truth not found")
    raise GroundTruthFormatError(
        f"{path}: unknown ground-truth format; expected a folder with gt/scene.json or gt/cams/poses_c2w.txt, "
        "a COLMAP model "
        "(cameras and images .txt or .bin), a *_par.txt file or a folder of *.camera files"
    )


def load_ground_truth(path: Path, *, images_dir: Path | None = None, scale: float | None = None) -> GroundTruth:
    """Load ground truth of any supported format, detected from ``path`` (see :func:`detect_format`).

    Args:
        path: a sample scene folder, an RGB-D sequence folder (``gt/cams/poses_c2w.txt``), a COLMAP
            model folder, a Middlebury ``*_par.txt`` (or a folder holding one) or a folder of
            Strecha ``*.camera`` files.
        images_dir: folder of the photos, where the format does not fix it.
        scale: Strecha only: image size / calibrated size where the images cannot be found.

    Raises:
        GroundTruthFormatError: for unknown formats and malformed files (the message names the file).
        ValueError: when ``scale`` is given for a format other than Strecha.
    """
    kind, target = detect_format(Path(path))
    if scale is not None and kind != "strecha":
        raise ValueError(f"scale applies to Strecha cameras only, {path} is {kind}")
    logger.debug("loading %s ground truth from %s", kind, target)
    if kind == "sample_scene":
        return load_sample_scene(target)
    if kind == "rgbd":
        return load_rgbd(target)
    if kind == "colmap":
        return load_colmap(target, images_dir=images_dir)
    if kind == "middlebury":
        return load_middlebury(target, images_dir=images_dir)
    return load_strecha(target, images_dir=images_dir, scale=scale)
