"""CUDA: the same maps as on the CPU, half precision close to full, and the speed target.

Skipped without CUDA (``-m gpu`` selects them on a machine that has it).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from photogrammetry.mvs.cascade import CascadeOptions, FeatureBank, estimate_depth
from photogrammetry.mvs.methods import method_spec
from photogrammetry.mvs.multiview import match_cost, read_image, working_views
from photogrammetry.mvs.options import MVSOptions
from photogrammetry.mvs.network import WEIGHTS_FILE
from photogrammetry.mvs.selection import SelectionOptions, depth_range, select_sources

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def one_view(scene, method: str, device: str, size: int, fp16: bool, hypotheses=(48, 16, 8)):
    """Depth of the facade's view 5 and the seconds its sweep took (features computed beforehand)."""
    views = {n: v.resized(size, size * 3 // 4) for n, v in working_views(scene, 0).items()}
    name = sorted(views)[5]
    sources = select_sources(scene, SelectionOptions(num_sources=5))[name]
    extractor = method_spec(method).build(None, device, fp16)
    bank = FeatureBank(extractor, lambda n: read_image(views[n]), len(hypotheses), device, 2**34)
    for n in [name, *sources]:
        bank.get(n, 0)
    cost = match_cost(MVSOptions(method=method), extractor)
    options = CascadeOptions(hypotheses=hypotheses, memory_budget_mb=4096)
    args = (views[name], [views[s] for s in sources], depth_range(scene, scene.views[name], SelectionOptions()),
            bank, cost, options)
    estimate_depth(*args)  # warm-up (kernels, allocator)
    torch.cuda.synchronize()
    start = time.perf_counter()
    estimate = estimate_depth(*args)
    torch.cuda.synchronize()
    return estimate.depth, time.perf_counter() - start


def agree(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b) <= 0.005 * np.maximum(a, b)))


def test_cuda_matches_the_cpu(facade):
    cpu, _ = one_view(facade, "ncc", "cpu", 320, False)
    gpu, _ = one_view(facade, "ncc", "cuda", 320, False)
    assert agree(cpu, gpu) > 0.98


@pytest.mark.skipif(not WEIGHTS_FILE.is_file(), reason="lite weights not trained")
def test_half_precision_is_close_to_full(facade):
    full, _ = one_view(facade, "lite", "cuda", 640, False)
    half, _ = one_view(facade, "lite", "cuda", 640, True)
    assert agree(full, half) > 0.97


@pytest.mark.skipif(not WEIGHTS_FILE.is_file(), reason="lite weights not trained")
def test_a_1600x1200_map_with_5_sources_takes_under_half_a_second(facade):
    _, seconds = one_view(facade, "lite", "cuda", 1600, True)
    name = torch.cuda.get_device_name()
    print(f"1600x1200, 5 sources, lite, fp16 on {name}: {seconds:.3f} s")
    if "H100" in name or "H200" in name:
        assert seconds < 0.5


@pytest.mark.skipif(not WEIGHTS_FILE.is_file(), reason="lite weights not trained")
def test_a_2000px_map_fits_in_24_gb(facade):
    torch.cuda.reset_peak_memory_stats()
    depth, _ = one_view(facade, "lite", "cuda", 2000, True)
    assert depth.shape == (1500, 2000)
    assert torch.cuda.max_memory_allocated() < 24 * 2**30
