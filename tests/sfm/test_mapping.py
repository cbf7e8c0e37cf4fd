"""Mapping on synthetic scenes: accuracy, strategies, the global retry and clear failures."""

from __future__ import annotations

import numpy as np
import pycolmap
import pytest

from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses
from photogrammetry.evaluation.ground_truth import GroundTruth
from photogrammetry.evaluation.loaders import colmap_views
from photogrammetry.sfm.mapping import choose_mapper, incremental_options
from photogrammetry.sfm.adjust import significant
from photogrammetry.sfm.refine import principal_points_plausible
from photogrammetry.sfm.options import MappingOptions, SfmOptions
from photogrammetry.stages import PIPELINE
from tests.sfm.conftest import run_sfm


def _ground_truth(truth: pycolmap.Reconstruction, tmp_path) -> GroundTruth:
    views = colmap_views(truth, tmp_path, None)
    centers = np.stack([v.pose.center for v in views.values()])
    extent = float(np.linalg.norm(centers.max(0) - centers.min(0)))
    return GroundTruth(views=views, extent=extent, source=tmp_path, kind="colmap")


def test_synthetic_scene_is_reconstructed_accurately(synthetic_scene, synthetic_sfm, tmp_path):
    model = pycolmap.Reconstruction(synthetic_sfm.model)
    metrics = evaluate_poses(estimated_poses(model), _ground_truth(synthetic_scene.truth, tmp_path))
    assert metrics.num_registered == 8
    assert metrics.rotation_error_median_deg < 0.1
    assert metrics.center_error_median < 0.01
    assert metrics.auc[1.0] > 0.8
    assert synthetic_sfm.summary.unregistered == ()
    assert synthetic_sfm.summary.models[0].num_images == 8
    assert model.compute_mean_reprojection_error() < 1.0


def test_focal_length_is_recovered_without_a_prior(synthetic_sfm):
    camera = next(iter(pycolmap.Reconstruction(synthetic_sfm.model).cameras.values()))
    assert camera.focal_length == pytest.approx(1280.0, rel=0.02)


def test_global_mapper_reconstructs_the_scene(synthetic_scene, tmp_path):
    result = run_sfm(synthetic_scene, tmp_path / "out", "mapping.mapper=global", "refinement.enabled=false")
    assert result.summary.mapper == "global"
    assert len(result.summary.registered) == 8


def test_two_disconnected_groups_give_two_models_largest_first(scene_factory, tmp_path, caplog):
    groups = {f"camera000001_frame00000{i}.png": i < 5 for i in range(8)}
    scene = scene_factory(num_images=8, drop_pairs=lambda a, b: groups[a] != groups[b])
    result = run_sfm(scene, tmp_path / "out", "mapping.min_model_size=2")
    warning = next(r.getMessage() for r in caplog.records if "separate models" in r.getMessage())
    first = ", ".join(f"camera000001_frame00000{i}.png" for i in range(5))
    assert f"model 0 (chosen, 5 photos: {first})" in warning and "add photos between the parts" in warning
    assert "share at most 0 feature tracks" in warning and "no mapper can join the parts" in warning
    sizes = [m.num_images for m in result.summary.models]
    assert sizes[0] == 5 and sorted(sizes, reverse=True) == sizes and sum(sizes) == 8
    # the scene's cameras move straight ahead: the global retry is decided against before it runs
    assert any(a.endswith("global: not run, the cameras move straight ahead") for a in result.summary.attempts)
    assert len(result.summary.unregistered) == 3
    for info in result.summary.models:
        assert pycolmap.Reconstruction(result.root / info.path).num_reg_images() == info.num_images


def test_unmatched_photos_raise_a_stage_error_with_advice(scene_factory, tmp_path):
    scene = scene_factory(num_images=4, drop_pairs=lambda a, b: True)
    with pytest.raises(StageError, match="no pair of the 4 photos has a single feature match .* overlap"):
        run_sfm(scene, tmp_path / "out")


def test_auto_mapper_switches_to_global_above_the_threshold():
    config = SfmOptions(mapping=MappingOptions(global_above_images=10))
    assert choose_mapper(config, 10) == "incremental"
    assert choose_mapper(config, 11) == "global"
    assert choose_mapper(SfmOptions(mapping=MappingOptions(mapper="incremental", global_above_images=1)),
                         99) == "incremental"


@pytest.mark.parametrize("setting", ["mapping.min_num_matches=0", "verification.min_inlier_ratio=1.5",
                                     "verification.max_error=0.0", "mapping.init_min_tri_angle=95.0",
                                     "sift.max_features=0", "refinement.sift_min_points=0",
                                     "mapping.ba_function_tolerance=-1.0", "mapping.join_min_shared_points=-1",
                                     "mapping.ba_global_ratio=1.0", "mapping.threads=-1"])
def test_invalid_settings_are_config_errors_naming_the_option(setting):
    path, _, _ = setting.partition("=")
    group, _, name = path.partition(".")
    with pytest.raises(ConfigError, match=rf"sfm\.{group}: {name} must be"):
        resolve_config(PIPELINE, preset=None, overrides=[f"sfm.{setting}"])


def test_the_mapper_gets_the_tolerance_and_fallback_settings():
    mapping = MappingOptions(ba_function_tolerance=1e-4, structure_less_fallback=False)
    options = incremental_options(SfmOptions(mapping=mapping), 1)
    assert options.ba_global_function_tolerance == options.ba_local_function_tolerance == pytest.approx(1e-4)
    assert options.structure_less_registration_fallback is False
    assert incremental_options(SfmOptions(), 1).structure_less_registration_fallback is True
    cpu = resolve_config(PIPELINE, preset="cpu", overrides=[])["sfm"]
    assert cpu.mapping.structure_less_fallback is False
    assert incremental_options(SfmOptions(), 1).ba_global_frames_ratio == pytest.approx(1.1)
    options = incremental_options(cpu, 1)
    assert options.ba_global_frames_ratio == options.ba_global_points_ratio == pytest.approx(1.5)


def test_former_flat_names_give_their_new_path():
    with pytest.raises(ConfigError, match=r"sfm\.verify_max_trials is now sfm\.verification\.max_trials"):
        resolve_config(PIPELINE, preset=None, overrides=["sfm.verify_max_trials=10"])


def test_implausible_principal_point_is_detected():
    model = pycolmap.Reconstruction()
    camera = pycolmap.Camera.create_from_model_name(1, "SIMPLE_RADIAL", 500.0, 640, 480)
    model.add_camera(camera)
    assert principal_points_plausible(model, 0.1)
    model.cameras[1].params = [500.0, 420.0, 240.0, 0.0]
    assert not principal_points_plausible(model, 0.1)


def test_principal_point_is_kept_only_when_it_explains_the_data_better(synthetic_sfm):
    model = pycolmap.Reconstruction(synthetic_sfm.model)
    assert not synthetic_sfm.summary.principal_point_refined  # synthetic cameras: centred principal point
    assert not significant(model, model, 2)
    worse = pycolmap.Reconstruction(model)
    camera = worse.cameras[next(iter(worse.cameras))]
    camera.params = [camera.params[0], camera.params[1] + 3.0, camera.params[2], camera.params[3]]
    worse.update_point_3d_errors()
    assert worse.compute_mean_reprojection_error() > model.compute_mean_reprojection_error()
    assert significant(worse, model, 2)


def _synthetic_model(frames: int = 8):
    options = pycolmap.SyntheticDatasetOptions()
    options.num_rigs, options.num_cameras_per_rig = 1, 1
    options.num_frames_per_rig, options.num_points3D = frames, 100
    pycolmap.set_random_seed(0)
    return pycolmap.synthesize_dataset(options)


def test_a_global_model_that_collapses_in_scale_disagrees_with_the_incremental_piece():
    """The office walk's global model shrank along the walk: moved onto it, the piece's centres miss."""
    import copy

    import numpy as np

    from photogrammetry.sfm.mapping import _global_agrees, disagreement
    from photogrammetry.sfm.options import SfmOptions

    truth = _synthetic_model()
    moved = copy.deepcopy(truth)
    quaternion = np.array([0.3, -0.2, 0.1, 0.9]) / np.linalg.norm([0.3, -0.2, 0.1, 0.9])
    moved.transform(pycolmap.Sim3d(2.5, pycolmap.Rotation3d(quaternion), np.array([1.0, 2.0, 3.0])))
    residual, angle = disagreement(moved, truth)
    assert residual < 1e-9 and angle < 1e-6  # the same model in another frame agrees
    collapsed = copy.deepcopy(truth)
    for k, image_id in enumerate(sorted(collapsed.reg_image_ids())):
        image = collapsed.image(image_id)
        rotation = image.cam_from_world().rotation.matrix()
        centre = image.projection_center() * (1.0 - 0.1 * k)
        collapsed.frame(image.frame_id).rig_from_world = pycolmap.Rigid3d(pycolmap.Rotation3d(rotation),
                                                                          -rotation @ centre)
    residual, _ = disagreement(truth, collapsed)
    assert residual > 2 * SfmOptions().mapping.global_max_residual
    assert _global_agrees([truth], moved, SfmOptions()) and not _global_agrees([truth], collapsed, SfmOptions())
    assert _global_agrees([], collapsed, SfmOptions())  # no incremental piece to compare with: kept


def test_a_light_pass_reads_no_colours_and_adjusts_less():
    full, light = (incremental_options(SfmOptions(), 1, light=flag) for flag in (False, True))
    assert full.extract_colors and not light.extract_colors
    assert light.ba_global_function_tolerance == light.ba_local_function_tolerance == pytest.approx(1e-4)
    assert full.ba_global_function_tolerance == pytest.approx(1e-6)
    assert (light.ba_local_max_refinements, light.ba_global_max_refinements) == (1, 1)
    assert (full.ba_local_max_refinements, full.ba_global_max_refinements) == (2, 5)
    looser = incremental_options(SfmOptions(mapping=MappingOptions(ba_function_tolerance=1e-3)), 1, light=True)
    assert looser.ba_global_function_tolerance == pytest.approx(1e-3)


def test_the_mappers_run_on_mapping_threads_where_it_is_set(synthetic_scene, tmp_path, monkeypatch):
    """``mapping.threads`` 1 (``cpu``) runs the incremental mapper on one thread whatever the stage's
    workers; 0 takes them."""
    from photogrammetry.sfm import mapping

    seen = []
    real = mapping.incremental_options
    monkeypatch.setattr(mapping, "incremental_options",
                        lambda config, threads, **kw: seen.append(threads) or real(config, threads, **kw))
    cpu = resolve_config(PIPELINE, preset="cpu", overrides=[])["sfm"]
    assert cpu.mapping.threads == 1 and SfmOptions().mapping.threads == 0
    result = run_sfm(synthetic_scene, tmp_path / "one", "mapping.threads=1", "refinement.enabled=false")
    assert len(result.summary.registered) == 8 and seen and set(seen) == {1}
    seen.clear()
    mapping.run_mapper("incremental", tmp_path / "one" / "database.db", synthetic_scene.ingest.root / "images",
                       tmp_path / "two", SfmOptions(), 3)
    assert seen == [3]
