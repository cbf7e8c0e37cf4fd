"""A video through structure from motion: the frames ingest keeps register, with the true focal length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap
import pytest

import photogrammetry
from photogrammetry.evaluation.cameras import CameraPose
from photogrammetry.evaluation.pose_metrics import estimated_poses, relative_pose_errors
from photogrammetry.io.ingest import load_ingest
from photogrammetry.io.sfm import load_sfm
from tests.io.video_factory import orbit_frames, orbit_scene, write_video


@pytest.mark.slow
def test_an_orbit_video_is_reconstructed(tmp_path: Path) -> None:
    size, count = (320, 240), 48
    video = write_video(tmp_path / "orbit.mp4", orbit_frames(count, size), fps=8)  # 6 s, 7.5 degrees a frame
    result = photogrammetry.run(video, tmp_path / "ws", preset="fast", until="sfm",
                                overrides=["ingest.video.sampling=interval", "ingest.video.fps=4"], progress=False)
    frames = load_ingest(result.folder("ingest")).images
    assert len(frames) == 24 and all(f.video == "orbit.mp4" for f in frames)
    sfm = load_sfm(result.folder("sfm"))
    model = pycolmap.Reconstruction(sfm.model)
    assert model.num_reg_images() == len(frames)
    assert len(load_ingest(result.folder("ingest")).cameras) == 1 and len(model.cameras) == 1  # one video, one camera
    camera = next(iter(model.cameras.values()))
    assert camera.focal_length == pytest.approx(orbit_scene(count, size).camera.focal, rel=0.02)  # no EXIF: estimated
    views = orbit_scene(count, size).views
    estimated = estimated_poses(model)
    names = sorted(estimated)
    truth = [CameraPose(R=views[f.frame].cam_from_world.rotation, t=views[f.frame].cam_from_world.translation)
             for f in sorted(frames, key=lambda f: f.name)]
    errors = relative_pose_errors(truth, [estimated[n] for n in names])
    assert np.median(errors) < 0.5 and np.max(errors) < 2.0  # degrees (measured: 0.06 and 0.34)
