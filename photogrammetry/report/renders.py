"""Section "Model views": the textured model and the fused cloud rendered from a few viewpoints.

The textured model is the export stage's GLB, cast with open3d's ray casting
(:mod:`photogrammetry.evaluation.texture_render`); the fused cloud is splatted point by point with
a depth test. Both are drawn in the GLB's frame (Y up, front towards +Z) when the export stage has
run; the cloud falls back to the reconstruction's frame (up arbitrary) before it.
"""

from __future__ import annotations

import numpy as np

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.texture_render import load_textured_mesh, render_colors
from photogrammetry.io.export import load_export_result
from photogrammetry.io.fusion import load_fusion
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.page import Section, figure, not_computed, png_uri

VIEWPOINTS = (("front", 0.0, 15.0), ("front right", 45.0, 25.0), ("right", 90.0, 15.0), ("above", 20.0, 70.0))
"""Name, azimuth from +Z towards +X and elevation above the horizon, in degrees."""
_BACKGROUND = np.array([245, 245, 245], dtype=np.uint8)
_MAX_CLOUD_POINTS = 400_000


def look_at(centre: np.ndarray, radius: float, azimuth: float, elevation: float,
            camera: PinholeCamera) -> CameraPose:
    """A Y-up camera on a sphere around ``centre`` looking at it, about far enough to see ``radius`` all round."""
    a, e = np.radians(azimuth), np.radians(elevation)
    direction = np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
    half_fov = np.arctan(min(camera.width, camera.height) / (2 * camera.K[0, 0]))
    eye = centre + direction * radius / np.sin(half_fov) * 0.85
    forward = (centre - eye) / np.linalg.norm(centre - eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right = right / np.linalg.norm(right) if np.linalg.norm(right) > 1e-6 else np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    return CameraPose.from_center(R=np.stack([right, down, forward]), center=eye)


def _camera(options: ReportOptions) -> PinholeCamera:
    width, height = options.render_size
    focal = 1.2 * max(width, height)
    return PinholeCamera(K=np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]]), width=width,
                         height=height)


def _bounds(points: np.ndarray) -> tuple[np.ndarray, float]:
    low, high = np.percentile(points, 1, axis=0), np.percentile(points, 99, axis=0)
    return (low + high) / 2, max(float(np.linalg.norm(high - low)) / 2, 1e-9)


def splat(points: np.ndarray, colours: np.ndarray, camera: PinholeCamera, pose: CameraPose) -> np.ndarray:
    """(H, W, 3) uint8 image of coloured points (nearest wins, 2 x 2 pixels each) over a light background."""
    in_camera = points @ pose.R.T + pose.t
    front = in_camera[:, 2] > 1e-9
    uvw = in_camera[front] @ camera.K.T
    x, y = (uvw[:, 0] / uvw[:, 2]).astype(np.int64), (uvw[:, 1] / uvw[:, 2]).astype(np.int64)
    order = np.argsort(-in_camera[front, 2])  # far first: near points overwrite them
    image = np.tile(_BACKGROUND, (camera.height, camera.width, 1))
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xs, ys = x[order] + dx, y[order] + dy
        inside = (xs >= 0) & (xs < camera.width) & (ys >= 0) & (ys < camera.height)
        image[ys[inside], xs[inside]] = colours[front][order][inside]
    return image


def _model_views(inputs: ReportInputs, options: ReportOptions) -> str:
    folder = inputs.folder("export")
    if folder is None:
        return not_computed("the textured model", inputs.why_missing("export"))
    export = load_export_result(folder)
    if "glb" not in export.info.files:
        return not_computed("the textured model", "no GLB was exported (export.formats)")
    mesh = load_textured_mesh(export.path("glb"))
    centre, radius = _bounds(np.concatenate([p.vertices for p in mesh.parts]))
    camera, raycaster = _camera(options), mesh.raycaster()
    figures = []
    for name, azimuth, elevation in VIEWPOINTS:
        colours, hit = render_colors(mesh, camera, look_at(centre, radius, azimuth, elevation, camera),
                                     raycaster=raycaster)
        image = np.where(hit[..., None], np.clip(colours * 255, 0, 255).astype(np.uint8), _BACKGROUND)
        figures.append(figure(png_uri(image), f"model, {name}"))
    return "<h3>Textured model (the GLB)</h3><div>" + "".join(figures) + "</div>"


def _cloud_views(inputs: ReportInputs, options: ReportOptions) -> str:
    import open3d as o3d

    folder = inputs.folder("fusion")
    if folder is None:
        return not_computed("the fused cloud", inputs.why_missing("fusion"))
    cloud = o3d.io.read_point_cloud(str(load_fusion(folder).points))
    points = np.asarray(cloud.points, dtype=np.float64)
    if len(points) == 0:
        return "<p>The fused cloud is empty.</p>"
    colours = (np.asarray(cloud.colors) * 255).astype(np.uint8) if cloud.has_colors() else \
        np.full((len(points), 3), 90, dtype=np.uint8)
    if len(points) > _MAX_CLOUD_POINTS:
        keep = np.random.default_rng(0).choice(len(points), _MAX_CLOUD_POINTS, replace=False)
        points, colours = points[keep], colours[keep]
    export = inputs.folder("export")
    if export is not None:
        transform = np.asarray(load_export_result(export).info.glb_from_world, dtype=np.float64)
        points = points @ transform[:3, :3].T + transform[:3, 3]
    centre, radius = _bounds(points)
    camera = _camera(options)
    figures = [figure(png_uri(splat(points, colours, camera, look_at(centre, radius, azimuth, elevation, camera))),
                      f"fused cloud, {name}") for name, azimuth, elevation in VIEWPOINTS]
    frame = "the GLB's frame" if export is not None else "the reconstruction's frame (up arbitrary)"
    return f"<h3>Fused cloud ({len(points)} points drawn, in {frame})</h3><div>" + "".join(figures) + "</div>"


def renders_section(inputs: ReportInputs, options: ReportOptions) -> Section:
    """The textured model and the fused cloud from the front, the side and above."""
    return Section("views", "Model views", _model_views(inputs, options) + _cloud_views(inputs, options))
