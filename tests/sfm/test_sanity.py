"""The chosen model's relative rotations against the verified pairs' own (:mod:`photogrammetry.sfm.sanity`):
a sound model passes, a bent one fails and is mapped again, and a model that no seed mends is reported."""

from __future__ import annotations

import copy
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pycolmap
import pytest

from photogrammetry.sfm import sanity, verification
from photogrammetry.sfm.mapping import MappingOutcome
from photogrammetry.sfm.options import SfmOptions
from tests.sfm.conftest import run_sfm
from tests.sfm.synthetic import ring_database


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> tuple[pycolmap.Reconstruction, Path]:
    """Eight synthetic views (640 x 480, focal 600 px) with 0.5 px keypoint noise, their database verified."""
    path = tmp_path_factory.mktemp("sanity") / "database.db"
    truth = ring_database(path, frames=8, points=300, seed=2, unmatched=20)
    noisy = pycolmap.Reconstruction(truth)
    with pycolmap.Database.open(path) as db:
        pycolmap.synthesize_noise(pycolmap.SyntheticNoiseOptions(point2D_stddev=0.5), noisy, db)
    verification.verify(path, SfmOptions(), num_threads=1)
    return truth, path


def _bent(model: pycolmap.Reconstruction, degrees_per_view: float) -> pycolmap.Reconstruction:
    """``model`` with each camera turned about its own vertical axis by its index times ``degrees_per_view``:
    the relative rotations of views k apart off by k times that, as along the office walk's bent model."""
    bent = copy.deepcopy(model)
    for k, image_id in enumerate(sorted(bent.reg_image_ids())):
        image = bent.image(image_id)
        turn = pycolmap.Rigid3d(pycolmap.Rotation3d(np.radians([0.0, k * degrees_per_view, 0.0])), np.zeros(3))
        bent.frame(image.frame_id).set_cam_from_world(image.camera_id, turn * image.cam_from_world())
    return bent


def test_sound_poses_agree_with_their_pairs(ring):
    truth, database = ring
    found = sanity.rotation_agreement(truth, database, SfmOptions())
    assert found.pairs >= 20
    assert found.median_deg < 0.5
    assert sanity.passes(found, SfmOptions())


def test_a_bent_model_fails(ring):
    truth, database = ring
    found = sanity.rotation_agreement(_bent(truth, 3.0), database, SfmOptions())
    assert found.pairs >= 20
    assert found.median_deg > 2 * SfmOptions().sanity.max_rotation_deg
    assert not sanity.passes(found, SfmOptions())


def test_a_bent_model_is_mapped_again_and_the_sound_one_kept(ring):
    truth, database = ring
    seeds = []

    def remap(config: SfmOptions) -> MappingOutcome:
        seeds.append(config.seed)
        model = truth if config.seed == 2 else _bent(truth, 3.0)
        return MappingOutcome(models=[model], mapper="incremental", attempts=("incremental: 1 model(s)",))

    first = MappingOutcome(models=[_bent(truth, 3.0)], mapper="incremental", attempts=("first",))
    chosen, check = sanity.checked(first, database, SfmOptions(), remap)
    assert seeds == [1, 2]
    assert chosen.models[0] is truth
    assert check.passed and check.median_deg < 0.5
    assert check.runs[-1].endswith("(kept)") and len(check.runs) == 3
    assert chosen.attempts[0] == "first" and chosen.attempts[-1].startswith("sanity check, seed 2")


def test_no_seed_mends_it_the_least_bent_is_kept_and_reported(ring):
    truth, database = ring
    worse = _bent(truth, 6.0)
    config = dataclasses.replace(SfmOptions(), seed=5)
    chosen, check = sanity.checked(
        MappingOutcome(models=[worse], mapper="incremental", attempts=()), database, config,
        lambda c: MappingOutcome(models=[_bent(truth, 3.0 if c.seed == 6 else 9.0)], mapper="incremental",
                                 attempts=()))
    assert not check.passed
    assert [line.split(":")[0] for line in check.runs] == ["seed 5", "seed 6", "seed 7"]
    assert check.runs[1].endswith("(kept)")
    assert chosen.models[0] is not worse
    assert "--set sfm.seed" in sanity.warning(check)


def test_the_stage_records_the_check(synthetic_sfm):
    check = synthetic_sfm.summary.pose_check
    assert check is not None and check.passed and check.runs == ()
    assert check.median_deg < 1.0 and check.pairs >= 20


def test_the_stage_warns_where_no_seed_passes(synthetic_scene, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        result = run_sfm(synthetic_scene, tmp_path / "sfm", "sanity.max_rotation_deg=0.000001", "sanity.retry_seeds=1")
    check = result.summary.pose_check
    assert check is not None and not check.passed
    assert len(check.runs) == 2
    assert any("poses are likely wrong" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert len(result.summary.registered) == 8


@pytest.mark.parametrize(("setting", "word"), [("max_rotation_deg=-1", "max_rotation_deg"),
                                               ("min_pairs=0", "min_pairs"), ("retry_seeds=-1", "retry_seeds"),
                                               ("max_pairs=0", "max_pairs")])
def test_bad_options_are_refused_by_name(setting, word):
    from photogrammetry.engine.settings import resolve_config
    from photogrammetry.errors import ConfigError
    from photogrammetry.stages import sfm

    with pytest.raises(ConfigError, match=f"sfm.sanity.{word}"):
        resolve_config([sfm.STAGE], preset=None, overrides=[f"sfm.sanity.{setting}"])


def test_status_line_says_what_was_tried():
    from photogrammetry.io.sfm import PoseCheck

    passed = PoseCheck(median_deg=1.2, pairs=59, limit_deg=3.5, passed=True,
                       runs=("seed 0: 20 images, median 14.0 deg over 58 pairs",
                             "seed 1: 20 images, median 1.2 deg over 59 pairs (kept)"))
    assert sanity.describe(passed) == ("1.2 deg over 59 pairs (limit 3.5), 1 other seed(s) tried, kept seed 1: "
                                       "20 images, median 1.2 deg over 59 pairs")
    failed = PoseCheck(median_deg=7.8, pairs=39, limit_deg=3.5, passed=False, runs=("seed 0: 20 images (kept)",))
    assert sanity.describe(failed).startswith("FAILED, the poses are likely wrong (try --set sfm.seed=")
    assert sanity.describe(PoseCheck(median_deg=0.5, pairs=30, limit_deg=3.5, passed=True)) == \
        "0.5 deg over 30 pairs (limit 3.5)"


def test_many_pairs_are_sampled(ring):
    truth, database = ring
    few = dataclasses.replace(SfmOptions(), sanity=dataclasses.replace(SfmOptions().sanity, max_pairs=10))
    found = sanity.rotation_agreement(truth, database, few)
    assert 0 < found.pairs <= 10 and found.median_deg < 0.5
