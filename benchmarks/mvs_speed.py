"""``benchmarks/mvs.py --speed``: one 1600x1200 depth map with 5 sources timed per method, COLMAP's
PatchMatch beside it where pycolmap has CUDA."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _speed_setup(args: argparse.Namespace, scenes: Path):
    """The middle view of the first scene (a folder of ``scenes``) at 1600x1200, its 5 sources and depth range."""
    from photogrammetry.mvs.scene import load_scene
    from photogrammetry.mvs.selection import SelectionOptions, depth_range, select_sources

    folder = scenes / args.scenes.split(",")[0]
    scene = load_scene(folder / "images", folder / "gt" / "sparse")
    views = {n: v.resized(1600, 1200) for n, v in scene.views.items()}
    name = scene.names[len(scene.names) // 2]
    sources = select_sources(scene, SelectionOptions(num_sources=5))[name]
    return folder, scene, views, name, sources, depth_range(scene, scene.views[name], SelectionOptions())


def _synchronise(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def time_method(method: str, device: str, setup, repeats: int = 3) -> tuple[float, float, float]:
    """Seconds to extract the 6 views' features, and median wall and CPU seconds of the sweep (after a
    warm-up; CPU seconds, of all threads, say more than wall time on a shared machine)."""
    from photogrammetry.mvs.cascade import CascadeOptions, FeatureBank, estimate_depth
    from photogrammetry.mvs.methods import method_spec
    from photogrammetry.mvs.multiview import match_cost, read_image
    from photogrammetry.mvs.options import MVSOptions

    _, _, views, name, sources, near_far = setup
    extractor = method_spec(method).build(None, device, True)
    options = CascadeOptions(memory_budget_mb=4096)
    bank = FeatureBank(extractor, lambda n: read_image(views[n]), len(options.hypotheses), device, 2**35)
    bank.get(name, 0)  # warm-up of the network
    bank = FeatureBank(extractor, lambda n: read_image(views[n]), len(options.hypotheses), device, 2**35)
    _synchronise(device)
    t0 = time.perf_counter()
    for n in [name, *sources]:
        bank.get(n, 0)
    _synchronise(device)
    features = time.perf_counter() - t0
    cost = match_cost(MVSOptions(method=method), extractor)
    args = (views[name], [views[s] for s in sources], near_far, bank, cost, options)
    estimate_depth(*args)
    seconds, cpu = [], []
    for _ in range(max(1, repeats)):
        _synchronise(device)
        t0, c0 = time.perf_counter(), time.process_time()
        estimate_depth(*args)
        _synchronise(device)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return features, sorted(seconds)[len(seconds) // 2], sorted(cpu)[len(cpu) // 2]


def colmap_patch_match(setup, work: Path) -> float | None:
    """Seconds of COLMAP's PatchMatch (photometric pass) on the same view and sources; ``None`` without CUDA."""
    import cv2
    import pycolmap

    if not getattr(pycolmap, "has_cuda", False):
        return None
    folder, _, views, name, sources, (near, far) = setup
    model = pycolmap.Reconstruction(str(folder / "gt" / "sparse"))
    for camera in model.cameras.values():
        camera.rescale(1600, 1200)
    for sub in ("images", "sparse", "stereo/depth_maps", "stereo/normal_maps", "stereo/consistency_graphs"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    model.write(str(work / "sparse"))
    for n in [name, *sources]:
        cv2.imwrite(str(work / "images" / n), cv2.resize(cv2.imread(str(views[n].image_path)), (1600, 1200)))
    (work / "stereo" / "patch-match.cfg").write_text(f"{name}\n{', '.join(sources)}\n")
    options = pycolmap.PatchMatchOptions(geom_consistency=False, filter=False, depth_min=near, depth_max=far,
                                         allow_missing_files=True)
    t0 = time.perf_counter()
    pycolmap.patch_match_stereo(work, options=options)
    return time.perf_counter() - t0


def speed(args: argparse.Namespace, scenes: Path) -> None:
    """Seconds of one 1600x1200 depth map with 5 sources, per method (the first of ``args.scenes``, a folder
    of ``scenes``); COLMAP PatchMatch when it has CUDA."""
    import torch

    from photogrammetry.engine.runner import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    setup = _speed_setup(args, scenes)
    where = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"one 1600x1200 depth map of {setup[3]} with 5 sources on {where}:")
    best = None
    for method in args.methods.split(","):
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        features, sweep, cpu = time_method(method, device, setup, args.repeats)
        best = sweep if best is None else min(best, sweep)
        memory = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB" if device == "cuda" else ""
        print(f"  {method}: sweep {sweep:.3f} s, {cpu:.3f} s CPU on {torch.get_num_threads()} thread(s) "
              f"(+ {features:.3f} s for the 6 views' features, once per scene){memory}")
    with tempfile.TemporaryDirectory() as tmp:
        colmap = colmap_patch_match(setup, Path(tmp))
    if colmap is None:
        print("  COLMAP PatchMatch: not run (this pycolmap has no CUDA)")
    else:
        print(f"  COLMAP PatchMatch (photometric): {colmap:.3f} s, {colmap / best:.1f}x our fastest sweep")
