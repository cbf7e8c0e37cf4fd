"""The light first pass from several focal starts where a camera has no prior
(:mod:`photogrammetry.sfm.focal_starts`)."""

from __future__ import annotations

import logging

import pycolmap
import pytest

from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError
from photogrammetry.sfm import colmap, database, focal_starts, verification
from photogrammetry.sfm.focal_starts_options import FocalStartsOptions
from photogrammetry.sfm.mapping import MappingOutcome
from photogrammetry.stages import sfm
from tests.sfm.conftest import run_sfm
from tests.sfm.rigs import forward_video, write_rig
from tests.sfm.synthetic import SyntheticScene


class _Camera:
    def __init__(self, focal: float) -> None:
        self.focal = focal

    def mean_focal_length(self) -> float:
        return self.focal


class _Model:
    def __init__(self, registered: int, error: float, focal: float) -> None:
        self.registered, self.error, self.cameras = registered, error, {1: _Camera(focal)}

    def num_reg_images(self) -> int:
        return self.registered

    def compute_mean_reprojection_error(self) -> float:
        return self.error


def _start(factor: float, registered: int, error: float, focal: float) -> focal_starts.Start:
    return focal_starts.Start(factor, MappingOutcome(models=[_Model(registered, error, focal)], mapper="incremental",
                                                     attempts=()))


def test_the_lowest_error_wins_among_the_starts_holding_half_the_images():
    bent, sound, pieces = _start(1.2, 20, 1.28, 660.0), _start(0.6, 20, 1.14, 498.0), _start(2.4, 9, 0.4, 900.0)
    assert focal_starts.best([bent, sound, pieces], 20) is sound
    # office, 60 frames: the start registering the most was the wrong one, at a higher error
    walk, wrong = _start(1.2, 48, 0.42, 488.1), _start(0.6, 58, 0.62, 533.5)
    assert focal_starts.best([walk, wrong], 60) is walk
    # none holds half the connected images: the most registered, then the lowest error
    assert focal_starts.best([pieces, _start(5.0, 6, 3.0, 700.0)], 20) is pieces
    assert focal_starts.best([_start(1.2, 3, 0.4, 4043.0), _start(0.6, 3, 0.35, 3575.0)], 16).factor == 0.6
    assert focal_starts.best([focal_starts.Start(0.6, None), bent], 20) is bent
    assert focal_starts.spread([bent, sound, focal_starts.Start(5.0, None)]) == pytest.approx(162.0 / 498.0)
    assert focal_starts.spread([bent, sound, _start(5.0, 9, 0.3, 3000.0)]) == pytest.approx(162.0 / 498.0)
    assert focal_starts.spread([bent]) == 0.0


def test_starts_stop_where_two_end_at_the_best_focal_length_or_it_is_clearly_better_and_holds_half_the_images():
    assert focal_starts.settled([_start(1.2, 20, 0.5, 500.0), _start(0.6, 20, 0.6, 505.0)], 20, 0.02, 0.25)
    assert not focal_starts.settled([_start(1.2, 20, 0.5, 500.0), _start(0.6, 20, 0.6, 520.0)], 20, 0.02, 0.25)
    # three views of sixteen agreeing is no answer: a long lens breaks into pieces from short starts
    assert not focal_starts.settled([_start(1.2, 3, 0.5, 900.0), _start(0.6, 3, 0.5, 901.0)], 16, 0.02, 0.25)
    # the office walk's 60 frames: the wrong 0.6x start fits its tracks far worse; xfeat's bent start only a little
    assert focal_starts.settled([_start(1.2, 48, 0.42, 488.1), _start(0.6, 58, 0.62, 533.5)], 60, 0.02, 0.25)
    assert not focal_starts.settled([_start(1.2, 20, 1.26, 659.9), _start(0.6, 20, 1.12, 497.0)], 20, 0.02, 0.25)
    assert not focal_starts.settled([_start(1.2, 20, 0.42, 488.1), _start(0.6, 9, 0.9, 533.5)], 20, 0.02, 0.25)


def test_a_start_beyond_one_that_failed_is_not_tried_once_every_image_is_registered():
    none, wide, tele = focal_starts.Start(1.2, None), _start(0.6, 24, 0.6, 319.0), _start(2.4, 2, 0.3, 2236.0)
    assert focal_starts.beyond([none, wide], 2.4, 24) is none  # 1.2x lies between 0.6x and 2.4x
    assert focal_starts.beyond([none, wide, tele], 5.0, 24) is none
    assert focal_starts.beyond([wide, tele], 5.0, 24) is tele
    assert focal_starts.beyond([none, wide], 0.3, 24) is None  # nothing between 0.3x and 0.6x
    assert focal_starts.beyond([none, wide], 2.4, 25) is None  # the best leaves a connected image out
    assert focal_starts.beyond([_start(1.2, 20, 1.26, 660.0), _start(0.6, 20, 1.12, 497.0)], 2.4, 20) is None


@pytest.mark.parametrize("settings", [{"factors": (1.2, 0.0)}, {"converged": 0.0}, {"converged": 1.0},
                                      {"clear_margin": 0.0}])
def test_bad_focal_start_settings_are_refused_by_name(settings):
    with pytest.raises(ConfigError, match="focal_starts." + next(iter(settings))):
        FocalStartsOptions(**settings)


def test_a_start_is_written_to_the_cameras_without_a_prior_only(synthetic_scene, tmp_path):
    db = tmp_path / "database.db"
    database.write_database(db, synthetic_scene.ingest, synthetic_scene.features.path, synthetic_scene.matches.path,
                            camera_model="SIMPLE_RADIAL", shared_intrinsics=True)
    [camera] = focal_starts.set_start(db, 0.6)
    with pycolmap.Database.open(db) as opened:
        [written] = opened.read_all_cameras()
    assert written.camera_id == camera and not written.has_prior_focal_length
    assert written.focal_length == pytest.approx(0.6 * max(written.width, written.height))


def test_the_light_pass_keeps_the_winning_start_in_the_database(synthetic_scene, tmp_path, caplog):
    config = resolve_config([sfm.STAGE], preset=None, overrides=["sfm.focal_starts.factors=[5.0,1.2]"])["sfm"]
    db = tmp_path / "database.db"
    images = colmap.image_folder(synthetic_scene.ingest, tmp_path / ".images")
    database.write_database(db, synthetic_scene.ingest, synthetic_scene.features.path, synthetic_scene.matches.path,
                            camera_model=config.camera_model, shared_intrinsics=True)
    verification.verify(db, config, num_threads=1)
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        found = focal_starts.light_pass(db, images, tmp_path / "light", config, num_images=8, connected=8,
                                        num_threads=1)
    line = found.attempts[0]
    assert line.startswith("focal starts: 5x -> ") and "; 1.2x -> " in line and line in caplog.text
    kept = float(line.split("kept ")[1].split("x")[0])
    assert found.models[0].num_reg_images() == 8
    with pycolmap.Database.open(db) as opened:
        [camera] = opened.read_all_cameras()
    assert camera.focal_length == pytest.approx(kept * max(camera.width, camera.height))
    assert not camera.has_prior_focal_length


def _scene(rig, folder) -> SyntheticScene:
    ingest, features, matches = write_rig(rig, folder)
    return SyntheticScene(ingest=ingest, features=features, matches=matches, truth=None)


def _focal(result) -> float:
    return next(iter(pycolmap.Reconstruction(result.model).cameras.values())).focal_length


def test_a_tie_goes_to_the_earlier_start():
    assert focal_starts.best([_start(1.2, 20, 0.494, 489.5), _start(2.4, 20, 0.489, 489.5)], 20).factor == 1.2
    assert focal_starts.best([_start(1.2, 20, 0.52, 489.5), _start(2.4, 20, 0.49, 489.5)], 20).factor == 2.4


@pytest.mark.slow
def test_a_wide_video_far_from_colmaps_guess_is_found_by_the_light_pass(tmp_path):
    # 320 px on 640 x 480 (90 degrees across): from COLMAP's 768 px the light pass finds no model and
    # both passes ran again in full; from 0.6x (384 px) it registers every frame
    rig = forward_video(focal=320.0)
    result = run_sfm(_scene(rig, tmp_path / "in"), tmp_path / "out")
    assert len(result.summary.registered) == len(rig.rotations)
    assert _focal(result) == pytest.approx(rig.focal, rel=0.02)
    line = result.summary.attempts[0]
    assert "focal starts: 1.2x: no model; 0.6x -> " in line and "kept 0.6x" in line
    assert "2.4x: not run (1.2x, nearer, 0 images); 5x: not run (1.2x, nearer, 0 images)" in line
    assert not any(a.startswith("incremental") for a in result.summary.attempts)  # no mapping in full after it
