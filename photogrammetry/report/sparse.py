"""Section "Sparse model": reprojection errors and track lengths of the SfM points."""

from __future__ import annotations

import numpy as np
import pycolmap

from photogrammetry.report import svg
from photogrammetry.report.cameras import sparse_model
from photogrammetry.report.inputs import ReportInputs
from photogrammetry.report.page import Section, esc, not_computed, table


def reprojection_errors(rec: pycolmap.Reconstruction) -> np.ndarray:
    """(K,) distance in pixels between each observation and its 3D point projected into its image."""
    errors = []
    for image in rec.images.values():
        if not image.has_pose:
            continue
        observed = [(p.xy, p.point3D_id) for p in image.points2D if p.has_point3D()]
        if not observed:
            continue
        xy = np.array([o[0] for o in observed], dtype=np.float64)
        xyz = np.array([rec.points3D[o[1]].xyz for o in observed], dtype=np.float64)
        pose = image.cam_from_world().matrix()
        in_camera = xyz @ pose[:, :3].T + pose[:, 3]
        front = in_camera[:, 2] > 0
        projected = np.asarray(image.camera.img_from_cam(in_camera[front]), dtype=np.float64)
        errors.append(np.linalg.norm(projected - xy[front], axis=1))
    return np.concatenate(errors) if errors else np.zeros(0)


def track_lengths(rec: pycolmap.Reconstruction) -> np.ndarray:
    """(P,) number of images that see each 3D point."""
    return np.array([p.track.length() for p in rec.points3D.values()], dtype=np.int64)


def sparse_section(inputs: ReportInputs) -> Section:
    """Histograms of the reprojection error (per observation) and of the track length (per point)."""
    found = sparse_model(inputs)
    if found is None:
        return Section("sparse", "Sparse model", not_computed("the sparse model", inputs.why_missing("sfm")))
    rec = pycolmap.Reconstruction(str(found[0]))
    errors, tracks = reprojection_errors(rec), track_lengths(rec)
    if len(errors) == 0:
        return Section("sparse", "Sparse model", "<p>The model holds no 3D points.</p>")
    top = max(float(np.percentile(errors, 99)), 0.5)
    error_chart = svg.histogram(errors, np.linspace(0.0, top, 21), title="Reprojection error per observation",
                                xlabel="pixels (last bar: above)")
    longest = int(tracks.max())
    track_chart = svg.histogram(tracks, np.arange(2, max(longest, 3) + 2) - 0.5, title="Track length per point",
                                xlabel="images seeing the point")
    stats = table(("points", "observations", "mean error (px)", "median error (px)", "90 % below (px)",
                   "mean track length"),
                  [(len(tracks), len(errors), float(errors.mean()), float(np.median(errors)),
                    float(np.percentile(errors, 90)), float(tracks.mean()))], numeric=range(6))
    return Section("sparse", "Sparse model", f"<p>Model: {esc(found[0])}</p>" + stats + error_chart + track_chart)
