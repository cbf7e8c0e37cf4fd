"""The learned volume regulariser of ``lite-reg``: shapes, tiling, the cascade, training, weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.mvs.cascade import CascadeOptions, FeatureBank, estimate_depth
from photogrammetry.mvs.cost import MatchCost
from photogrammetry.mvs.features import GreyFeatures
from photogrammetry.mvs.multiview import read_image, working_views
from photogrammetry.mvs.regularize import SGMOptions
from photogrammetry.mvs.selection import SelectionOptions, depth_range, select_sources
from photogrammetry.mvs.volume_net import (REGULARIZED_FILE, VolumeRegularizer, build_regularizer, load_regularized,
                                           weights_identity)
from photogrammetry.synthetic.training_set import load_training_set, render_training_set
from tests.mvs.test_network import train_script


def random_regularizer(seed: int = 0):
    """A regulariser with random weights everywhere (the head too: an untrained one is the identity)."""
    torch.manual_seed(seed)
    model = build_regularizer()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return model


def test_untrained_regularizer_keeps_the_volume_and_is_small():
    model = build_regularizer()
    volume = torch.rand(6, 21, 34) * 2 - 1
    with torch.no_grad():
        out = model(volume)
    assert out.shape == volume.shape and torch.equal(out, volume)
    assert sum(p.numel() for p in model.parameters()) < 50_000


def test_tiles_of_rows_give_the_same_volume():
    volume = torch.rand(5, 77, 41) * 2 - 1
    regularizer = VolumeRegularizer(random_regularizer(), "cpu", fp16=False)
    whole = regularizer(volume, 10**12)
    tiled = regularizer(volume, 64 * 5 * 41 * 40)  # 8 rows a tile (odd and even tile ends)
    assert not torch.allclose(whole, volume, atol=1e-2)
    assert torch.allclose(whole, tiled, atol=1e-5)


def test_half_precision_volumes_come_back_half_and_close():
    """What a CUDA run under fp16 hands over: a float16 volume (the CPU computes in float32)."""
    volume = torch.rand(4, 24, 30) * 2 - 1
    regularizer = VolumeRegularizer(random_regularizer(1), "cpu", fp16=True)
    full, half = regularizer(volume, 10**12), regularizer(volume.half(), 10**12)
    assert half.dtype == torch.float16
    assert (full - half.float()).abs().max() < 5e-3 * full.abs().max()  # the rounding of the input, amplified


@pytest.fixture(scope="module")
def facade_args(facade):
    views = working_views(facade, 160)
    name = facade.names[5]
    sources = select_sources(facade, SelectionOptions())[name]
    bank = FeatureBank(GreyFeatures(), lambda n: read_image(views[n]), 2, "cpu", 2**30)
    near_far = depth_range(facade, facade.views[name], SelectionOptions())
    return views[name], [views[s] for s in sources], near_far, bank, MatchCost()


def test_cascade_with_a_regularizer_at_any_memory_budget(facade_args):
    regularizer = VolumeRegularizer(random_regularizer(), "cpu", fp16=False)
    def options(budget: int) -> CascadeOptions:
        return CascadeOptions(hypotheses=(32, 8), memory_budget_mb=budget, learned_levels=0)

    roomy = estimate_depth(*facade_args, options(1024), regularizer)
    tight = estimate_depth(*facade_args, options(1), regularizer)
    plain = estimate_depth(*facade_args, CascadeOptions(hypotheses=(32, 8), sgm=SGMOptions(enabled=False)))
    assert np.isclose(roomy.depth, tight.depth, rtol=1e-4).mean() > 0.995
    assert np.isclose(roomy.depth, plain.depth, rtol=1e-3).mean() < 0.9  # it did change the volumes
    identity = VolumeRegularizer(build_regularizer(), "cpu", fp16=False)
    kept = estimate_depth(*facade_args, options(1024), identity)
    assert np.array_equal(kept.depth, plain.depth)  # it replaces the semi-global aggregation
    assert 0.0 <= roomy.confidence.min() and roomy.confidence.max() <= 1.0 + 1e-6  # a score past 1 is cut


def test_learned_levels_limits_the_regularizer_to_the_coarsest(facade_args):
    regularizer = VolumeRegularizer(random_regularizer(), "cpu", fp16=False)
    options = CascadeOptions(hypotheses=(32, 8), memory_budget_mb=1024, learned_levels=1)
    coarse_only = estimate_depth(*facade_args, options, regularizer)
    everywhere = estimate_depth(*facade_args, CascadeOptions(hypotheses=(32, 8), learned_levels=0), regularizer)
    assert np.array_equal(coarse_only.confidence, everywhere.confidence)  # the coarsest level's
    assert not np.array_equal(coarse_only.depth, everywhere.depth)


def test_training_with_the_regularizer_moves_it_and_writes_lite_reg_weights(tmp_path):
    script = train_script()
    render_training_set(tmp_path / "data", first_seed=1000, count=1, views=3, size=(160, 120))
    options = script.TrainOptions(regularizer=True, photometric=True, lr=1e-2, val=(tmp_path / "data",), val_samples=2)
    script.train([tmp_path / "data"], tmp_path / "reg.pt", steps=3, seed=0, options=options)
    features, regularizer = load_regularized(tmp_path / "reg.pt")
    assert regularizer.head.weight.abs().sum() > 0  # it left its zero start
    assert features(torch.rand(1, 3, 16, 16)).shape[-2:] == (16, 16)


def test_training_goes_on_from_lite_reg_weights_on_rooms_and_objects(tmp_path):
    script = train_script()
    render_training_set(tmp_path / "objects", first_seed=1000, count=1, views=3, size=(160, 120))
    render_training_set(tmp_path / "rooms", first_seed=3000, count=1, views=3, size=(160, 120), rooms=True)
    assert len(load_training_set([tmp_path / "objects", tmp_path / "rooms"])) == 2
    options = script.TrainOptions(regularizer=True, lr=1e-9, init=REGULARIZED_FILE)
    script.train([tmp_path / "objects", tmp_path / "rooms"], tmp_path / "reg.pt", steps=2, seed=0, options=options)
    _, start = load_regularized()
    _, regularizer = load_regularized(tmp_path / "reg.pt")
    assert torch.allclose(regularizer.head.weight, start.head.weight, atol=1e-5)  # both nets came from the file
    with pytest.raises(InputError, match="render"):
        load_training_set([tmp_path / "empty"])


def test_missing_or_foreign_weights_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="train_mvs.py train --regularizer"):
        load_regularized(tmp_path / "absent.pt")
    torch.save({"features": {}, "regularizer": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ConfigError, match="does not fit"):
        load_regularized(tmp_path / "foreign.pt")
    assert weights_identity(tmp_path / "absent.pt")["sha256"] is None


def test_committed_weights_are_small_and_load():
    assert REGULARIZED_FILE.is_file() and REGULARIZED_FILE.stat().st_size < 20 * 2**20
    _, regularizer = load_regularized()
    assert regularizer.head.weight.abs().sum() > 0


def test_lite_reg_refine_sweeps_with_lite_reg_and_refines_with_grey_ncc():
    from photogrammetry.mvs.features import LiteRegFeatures, LiteRegGreyFeatures
    from photogrammetry.mvs.methods import method_spec

    spec = method_spec("lite-reg-refine")
    assert (spec.similarity, spec.refine_similarity, spec.grey_channel) == ("dot", "ncc", True)
    images = torch.rand(1, 3, 32, 48)
    grey, plain = spec.build(None, "cpu", False), LiteRegFeatures(None, "cpu", False)
    assert isinstance(grey, LiteRegGreyFeatures) and grey.regularizer is not None
    out = grey(images)
    assert torch.equal(out[:, :-1], plain(images)) and torch.equal(out[:, -1:], GreyFeatures()(images))
