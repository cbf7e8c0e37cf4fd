"""Section "Sparse model": reprojection errors and track lengths of the SfM points."""

from __future__ import annotations

import numpy as np
import pycolmap

from photogrammetry.report import svg
from photogrammetry.report.cameras import sparse_model
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.page import Section, esc, not_computed, table


def reprojection_errors(rec: pycolmap.Reconstruction, limit: int) -> tuple[np.ndarray, int]:
    """Distances in pixels between observations and their 3D points projected into their images, for
    whole images in a fixed random order until ``limit`` observations; and how many images that took."""
    errors, total, used = [], 0, 0
    images = [image for image in rec.images.values() if image.has_pose]
    for k in np.random.default_rng(0).permutation(len(images)):
        if total >= limit:
            break
        image, used = images[k], used + 1
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
        total += len(errors[-1])
    return (np.concatenate(errors) if errors else np.zeros(0)), used


def track_lengths(rec: pycolmap.Reconstruction, limit: int) -> np.ndarray:
    """Number of images that see each 3D point, of up to ``limit`` points (a fixed random subset)."""
    ids = list(rec.points3D)
    if len(ids) > limit:
        ids = np.random.default_rng(0).choice(ids, limit, replace=False).tolist()
    return np.array([rec.points3D[i].track.length() for i in ids], dtype=np.int64)


def sparse_section(inputs: ReportInputs, options: ReportOptions) -> Section:
    """Histograms of the reprojection error (per observation) and of the track length (per point)."""
    found = sparse_model(inputs)
    if found is None:
        return Section("sparse", "Sparse model", not_computed("the sparse model", inputs.why_missing("sfm")))
    rec = pycolmap.Reconstruction(str(found[0]))
    errors, used = reprojection_errors(rec, options.max_observations)
    tracks = track_lengths(rec, options.max_observations)
    if len(errors) == 0:
        return Section("sparse", "Sparse model", "<p>The model holds no 3D points.</p>")
    top = max(float(np.percentile(errors, 99)), 0.5)
    error_chart = svg.histogram(errors, np.linspace(0.0, top, 21), title="Reprojection error per observation",
                                xlabel="pixels (last bar: above)")
    longest = int(tracks.max())
    track_chart = svg.histogram(tracks, np.arange(2, min(max(longest, 3), 50) + 2) - 0.5,
                                title="Track length per point", xlabel="images seeing the point (last bar: more)")
    sampled = "" if used == rec.num_reg_images() and len(tracks) == rec.num_points3D() else \
        f"<p>Errors of {len(errors)} observations in {used} of {rec.num_reg_images()} images, track lengths of " \
        f"{len(tracks)} of {rec.num_points3D()} points (ReportOptions.max_observations).</p>"
    stats = table(("points", "observations", "mean error (px)", "median error (px)", "90 % below (px)",
                   "mean track length"),
                  [(rec.num_points3D(), len(errors), float(errors.mean()), float(np.median(errors)),
                    float(np.percentile(errors, 90)), float(tracks.mean()))], numeric=range(6))
    charts = error_chart + track_chart
    return Section("sparse", "Sparse model", f"<p>Model: {esc(found[0])}</p>" + sampled + stats + charts)
