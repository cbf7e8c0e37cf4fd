"""The second mapping pass that gives a camera without a focal prior the focal length the first found."""

from __future__ import annotations

import pycolmap
import pytest

from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import StageError
from photogrammetry.sfm import colmap, database, focal_pass, mapping, verification
from photogrammetry.stages import sfm
from tests.sfm.conftest import run_sfm


def _cameras(path) -> list[pycolmap.Camera]:
    with pycolmap.Database.open(path) as db:
        return db.read_all_cameras()


def test_a_camera_without_a_prior_is_mapped_again_with_the_focal_found(synthetic_sfm):
    attempts = synthetic_sfm.summary.attempts
    light = "light first pass (200 RANSAC iterations at most, no retries), "
    assert attempts[0].startswith(f"{light}focal starts: 1.2x -> ")  # the starts, the winner and their spread
    assert attempts[1:] == (f"{light}incremental: 1 model(s), registered images 8",
                            "second pass, incremental: 1 model(s), registered images 8")
    [camera] = _cameras(synthetic_sfm.database)
    assert camera.has_prior_focal_length  # the database the second pass verified
    assert camera.focal_length == pytest.approx(1280.0, rel=0.02)  # the first pass's estimate, not the 1.2 x guess
    assert synthetic_sfm.summary.cameras[0].focal_source == "estimated"


@pytest.mark.parametrize("setting", ["focal_px=1200", "mapping.focal_second_pass=false"])
def test_no_second_pass_with_a_prior_or_when_off(synthetic_scene, tmp_path, setting):
    result = run_sfm(synthetic_scene, tmp_path / "out", setting, "refinement.enabled=false")
    assert result.summary.attempts == ("incremental: 1 model(s), registered images 8",)


def test_the_first_pass_and_its_database_stay_when_the_second_registers_less(synthetic_scene, tmp_path, monkeypatch):
    config = resolve_config([sfm.STAGE], preset=None, overrides=[])["sfm"]
    db = tmp_path / "database.db"
    images = colmap.image_folder(synthetic_scene.ingest, tmp_path / ".images")
    database.write_database(db, synthetic_scene.ingest, synthetic_scene.features.path, synthetic_scene.matches.path,
                            camera_model=config.camera_model, shared_intrinsics=True)
    verification.verify(db, config, num_threads=1)
    first = mapping.reconstruct(db, images, tmp_path / "first", config, num_images=8, connected=8, num_threads=1)
    before = ([(c.params.tolist(), c.has_prior_focal_length) for c in _cameras(db)], sorted(database.pairs_of(db)))

    def no_model(*args, **kwargs):
        assert _cameras(db)[0].has_prior_focal_length  # the second pass ran on the prior
        raise StageError("structure from motion found no model")

    monkeypatch.setattr(mapping, "reconstruct", no_model)
    kept = focal_pass.second_pass(db, images, tmp_path / "second", config, first, num_images=8, num_threads=1)
    assert kept.models is first.models and kept.mapper == first.mapper
    assert kept.attempts[-1].startswith("second pass, focal length ") and kept.attempts[-1].endswith(
        "as a prior: registered images 0")
    after = ([(c.params.tolist(), c.has_prior_focal_length) for c in _cameras(db)], sorted(database.pairs_of(db)))
    assert after == before and not before[0][0][1]  # the first pass's cameras (no prior) and verified pairs


def test_the_light_first_pass_caps_ransac_and_runs_only_before_a_second_pass():
    config = resolve_config([sfm.STAGE], preset=None, overrides=[])["sfm"]
    assert focal_pass.first_pass_options(config).verification.max_trials == 200
    assert focal_pass.first_pass_options(config).mapping == config.mapping
    fewer = resolve_config([sfm.STAGE], preset=None, overrides=["sfm.verification.max_trials=100"])["sfm"]
    assert focal_pass.first_pass_options(fewer).verification.max_trials == 100


def test_both_passes_run_in_full_where_the_light_pass_holds_under_half_the_connected(synthetic_scene, tmp_path,
                                                                                       monkeypatch, caplog):
    """Nine more images counted as connected than any model can hold: the light pass's focal is no prior."""
    real = focal_pass.connected_images
    monkeypatch.setattr(focal_pass, "connected_images", lambda db, n: real(db, n) + 9)
    monkeypatch.setattr(database, "connected_images", lambda db, n: real(db, n) + 9)  # the stage's count
    result = run_sfm(synthetic_scene, tmp_path / "out", "refinement.enabled=false", "mapping.retry_global=false")
    attempts = result.summary.attempts
    assert attempts[0] == "incremental: 1 model(s), registered images 8"  # in full: 1000 iterations, the retry
    assert attempts[1] == "incremental, distortion held: not run, no image left out could register or join"  # none
    assert "second pass, incremental: 1 model(s), registered images 8" in attempts
    assert not any(a.startswith("light") for a in attempts)
    assert result.summary.cameras[0].focal_px == pytest.approx(1280.0, rel=0.02)


def test_the_light_passes_stand_where_the_images_left_out_gain_no_verified_pair(synthetic_scene, tmp_path,
                                                                                 monkeypatch):
    """One more image counted as connected than the second pass registers: only the pairs between the images
    left out and the model are verified in full (none here), and nothing is mapped again."""
    calls = []
    monkeypatch.setattr(focal_pass.verification, "verify_between",
                        lambda db, config, one, other, **_: calls.append((set(one), set(other))) or 0)
    second = focal_pass._second_run

    def incomplete(*args, **kwargs):
        again, note, _ = second(*args, **kwargs)
        return again, note, False

    monkeypatch.setattr(focal_pass, "_second_run", incomplete)
    result = run_sfm(synthetic_scene, tmp_path / "out", "refinement.enabled=false")
    attempts = tuple(a for a in result.summary.attempts if "focal starts: " not in a)  # test_focal_starts
    assert attempts[0].startswith("light first pass") and attempts[1] == "second pass, incremental: 1 model(s), " \
        "registered images 8"
    assert attempts[-1] == "full verification of the pairs between the 0 images left out and the model: 0 pair(s) more"
    assert len(attempts) == 3 and calls == [(set(), set(range(1, 9)))]



def test_the_second_pass_matches_the_weak_images_again_first(synthetic_scene, tmp_path, caplog):
    caplog.set_level("INFO", logger="photogrammetry.sfm")
    result = run_sfm(synthetic_scene, tmp_path / "out", "guided.min_points=100000", "refinement.enabled=false")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("guided matching:")]
    assert lines and lines[0].startswith("guided matching: 8 weak image(s) (fewer than 100000 points)")
    assert len(result.summary.registered) == 8


def test_only_the_unverified_pairs_between_the_two_sets_are_verified_in_full(synthetic_scene, tmp_path):
    config = resolve_config([sfm.STAGE], preset=None, overrides=[])["sfm"]
    db = tmp_path / "database.db"
    database.write_database(db, synthetic_scene.ingest, synthetic_scene.features.path, synthetic_scene.matches.path,
                            camera_model=config.camera_model, shared_intrinsics=True)
    verification.verify(db, config, num_threads=1)
    verified = {(a, b): n for a, b, n in database.pairs_of(db)}
    assert verified[(1, 2)] >= 15 and verified[(1, 3)] >= 15
    with pycolmap.Database.open(db) as opened:
        for pair in ((1, 2), (1, 3)):
            opened.delete_two_view_geometry(*pair)
    assert verification.verify_between(db, config, {2}, {4, 5}) == 0  # (1, 2) and (1, 3) are not between them
    assert verification.verify_between(db, config, {2}, {1}) == 1
    after = {(a, b): n for a, b, n in database.pairs_of(db)}
    assert after[(1, 2)] >= 15 and (1, 3) not in after
    assert verification.verify_between(db, config, {1}, {2, 3}) == 1  # (1, 2) is verified now: (1, 3) only
