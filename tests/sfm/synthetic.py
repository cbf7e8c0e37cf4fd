"""Synthetic sfm inputs without images: pycolmap's synthetic scenes turned into our artifacts.

``pycolmap.synthesize_dataset`` makes cameras, poses, 3D points and their noisy projections;
the projections become ``features.h5`` and the correspondences ``matches.h5`` (with a share
of wrong matches), beside a minimal :class:`IngestResult`, so the sfm stage runs as it does
after the real features and matches stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.io.features import FeatureSet, Features, Matches, MatchSet, write_features, write_matches
from photogrammetry.io.ingest import CameraGroup, ImageRecord, IngestReport, IngestResult

WIDTH, HEIGHT, FOCAL = 1024, 768, 1280.0


@dataclass(frozen=True)
class SyntheticScene:
    """Inputs of the sfm stage and the true model."""

    ingest: IngestResult
    """Images (no pixels) and one camera group."""
    features: FeatureSet
    """``features.h5`` of the projections."""
    matches: MatchSet
    """``matches.h5`` of the correspondences."""
    truth: pycolmap.Reconstruction
    """The true cameras, poses and points."""


def _ingest(root: Path, names: list[str], focal: float | None) -> IngestResult:
    images = tuple(ImageRecord(
        name=n, file=f"images/{n}", source=str(root / n), camera_id=1, width=WIDTH, height=HEIGHT, scale=1.0,
        orientation=1, focal_px=focal, focal_source="exif_35mm" if focal else "none", make=None, model=None,
        lens=None, focal_mm=None, sha256="0" * 64, mask=None) for n in names)
    camera = CameraGroup(camera_id=1, width=WIDTH, height=HEIGHT, focal_px=focal,
                         focal_source="exif_35mm" if focal else "none", make=None, model=None, lens=None,
                         images=tuple(names))
    return IngestResult(root=root, images=images, cameras=(camera,), report=IngestReport(skipped=(), duplicates=()))


def _synthesize(num_images: int, num_points: int, seed: int, noise_px: float) -> tuple:
    pycolmap.set_random_seed(seed)
    options = pycolmap.SyntheticDatasetOptions(
        num_rigs=1, num_cameras_per_rig=1, num_frames_per_rig=num_images, num_points3D=num_points,
        camera_width=WIDTH, camera_height=HEIGHT, camera_params=[FOCAL, WIDTH / 2, HEIGHT / 2, 0.0],
        num_points2D_without_point3D=20, inlier_match_ratio=0.8)
    with pycolmap.Database.open(":memory:") as db:
        truth = pycolmap.synthesize_dataset(options, db)
        noisy = pycolmap.Reconstruction(truth)
        pycolmap.synthesize_noise(pycolmap.SyntheticNoiseOptions(point2D_stddev=noise_px), noisy, db)
        names = {im.image_id: im.name for im in db.read_all_images()}
        keypoints = {i: db.read_keypoints(i)[:, :2].astype(np.float32) for i in names}
        pair_ids, matches = db.read_all_matches()
    pairs = [(*pycolmap.pair_id_to_image_pair(p), m) for p, m in zip(pair_ids, matches)]
    return truth, names, keypoints, pairs


def ring_database(path: Path, *, frames: int, points: int, seed: int, unmatched: int) -> pycolmap.Reconstruction:
    """The true model of pycolmap's synthetic views (640 x 480, focal 600 px), whose keypoints and
    exact matches go into the COLMAP database at ``path``; ``unmatched`` keypoints per image without a point."""
    pycolmap.set_random_seed(seed)
    options = pycolmap.SyntheticDatasetOptions(
        num_rigs=1, num_cameras_per_rig=1, num_frames_per_rig=frames, num_points3D=points, camera_width=640,
        camera_height=480, camera_params=[600.0, 320.0, 240.0, 0.0], num_points2D_without_point3D=unmatched,
        inlier_match_ratio=1.0)
    with pycolmap.Database.open(path) as db:
        return pycolmap.synthesize_dataset(options, db)


def _one_match_per_keypoint(pair: tuple) -> tuple:
    """A pair's matches with each keypoint of image 0 in its first match only (hloc's ``matches0``
    holds one match per keypoint; pycolmap's synthetic outliers may give a keypoint several)."""
    a, b, m = pair
    _, first = np.unique(m[:, 0], return_index=True)
    return a, b, m[np.sort(first)]


def make_scene(folder: Path, *, num_images: int = 8, num_points: int = 300, seed: int = 1, noise_px: float = 0.5,
               focal_prior: float | None = None, drop_pairs=None) -> SyntheticScene:
    """Write a synthetic scene's features and matches into ``folder``.

    Args:
        folder: Where ``features.h5`` and ``matches.h5`` go.
        num_images: Views, on a rough circle around the points.
        num_points: 3D points.
        seed: Seed of pycolmap's generator.
        noise_px: Standard deviation of the keypoint noise, pixels.
        focal_prior: Focal prior given to the ingest's camera group.
        drop_pairs: ``(name0, name1) -> bool``; pairs for which it is true get no matches.
    """
    (folder / "images").mkdir(parents=True, exist_ok=True)  # no pixels: COLMAP only reads colours there
    truth, names, keypoints, pairs = _synthesize(num_images, num_points, seed, noise_px)
    features = [(names[i], Features(kp, np.ones(len(kp), np.float32), np.zeros((len(kp), 1), np.uint8),
                                    (WIDTH, HEIGHT))) for i, kp in sorted(keypoints.items())]
    items = [(names[a], names[b], Matches(m.astype(np.int32), np.ones(len(m), np.float32)))
             for a, b, m in map(_one_match_per_keypoint, pairs) if not (drop_pairs and drop_pairs(names[a], names[b]))]
    write_features(folder / "features.h5", features, "sift")
    write_matches(folder / "matches.h5", items, {name: len(f.keypoints) for name, f in features})
    ingest = _ingest(folder, sorted(names.values()), focal_prior)
    return SyntheticScene(ingest=ingest, features=FeatureSet(path=folder / "features.h5", extractor="sift"),
                          matches=MatchSet(path=folder / "matches.h5", pairs=tuple((a, b) for a, b, _ in items)),
                          truth=truth)
