"""Train the ``lite`` MVS feature network on our own synthetic renders (reproducible).

    python scripts/train_mvs.py render --data /tmp/mvs_train            # random scenes -> .npz
    python scripts/train_mvs.py train --data /tmp/mvs_train --steps 4000 # -> photogrammetry/mvs/weights/lite.pt

``render`` draws scenes with :func:`photogrammetry.synthetic.random_scene` (seeds from 1000 on,
apart from the sample scenes' specs), or with ``--rooms`` furnished rooms seen by a hand-held camera
(:func:`photogrammetry.synthetic.random_room_scene`), renders a run of consecutive views of each at
640x480 with exact depth, and JPEG-compresses them like the sample scenes. ``train`` reads one or
more folders of them. ``train`` samples, like the
cascade at inference, one of its three levels: the coarsest (1/4 size, a sweep of 48 planes over
the view's depth range) or a finer one (1/2 or full size, 16 or 8 per-pixel hypotheses around a
perturbed true depth) on crops, and minimises the cross-entropy of the softmax over hypotheses
of the same aggregated cost the sweep uses (:mod:`photogrammetry.mvs.cost`) against the true
depth (:mod:`photogrammetry.mvs.training`), with ``--subpixel-weight`` plus a smooth-L1 of the finest
level's refined winner index. Seeds fix the scenes, the sampling and the initialisation; runs on the CPU or CUDA.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.mvs.training import sample_loss
from photogrammetry.synthetic.training_set import load_training_set, render_training_set

LEVELS = ((0.25, 32, (96, 128)), (0.5, 16, (96, 128)), (1.0, 8, (96, 128)))
"""Training levels: (image scale, hypotheses, ref crop (h, w)); the coarsest level sweeps the whole
range (with fewer planes than at inference, to train faster), the others search around the truth."""

MAX_SOURCES = 3
"""Sources per example (random ones among the scene's other views)."""


@dataclass
class Sample:
    """One training example: a reference crop, its sources (crops) and hypotheses."""

    ref: object
    """(MVSView, image (h, w, 3) uint8, depth (h, w))."""
    sources: list
    """[(MVSView, image, depth)] cropped around the hypotheses' projections."""
    start: np.ndarray
    """(h, w) inverse depth of hypothesis 0."""
    interval: float
    """Inverse-depth step."""
    count: int
    """Number of hypotheses."""
    level: int
    """Index in :data:`LEVELS` (the last is the finest)."""


def _downscale(image: np.ndarray, depth: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Area-downscaled image; depth at the new pixel centres (0 where the block is not flat)."""
    if scale == 1.0:
        return image, depth
    f = round(1 / scale)
    h, w = depth.shape[0] // f, depth.shape[1] // f
    blocks = depth[: h * f, : w * f].reshape(h, f, w, f)
    lo, hi = blocks.min(axis=(1, 3)), blocks.max(axis=(1, 3))
    flat = (lo > 0) & (hi - lo < 0.01 * hi)
    return (cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA),
            np.where(flat, blocks.mean(axis=(1, 3)), 0.0).astype(np.float32))


def _view(K: np.ndarray, R: np.ndarray, t: np.ndarray, width: int, height: int, crop: tuple[int, int]):
    """An :class:`MVSView` of an image cropped at ``(x0, y0)`` (no file behind it)."""
    from photogrammetry.mvs.scene import MVSView

    shifted = K.copy()
    shifted[0, 2] -= crop[0]
    shifted[1, 2] -= crop[1]
    return MVSView(name="", image_path=Path(), mask_path=None, K=shifted, R=R, t=t, width=width, height=height)


def _source_box(ref, depth_lo: np.ndarray, depth_hi: np.ndarray, src, margin: int = 6):
    """Pixel box (x0, y0, x1, y1) of a source covering the ref pixels' projections at both depths."""
    from photogrammetry.mvs.geometry import backproject

    boxes = []
    for d in (depth_lo, depth_hi):
        world = (backproject(d, ref.K).reshape(-1, 3) - ref.t) @ ref.R
        cam = world @ src.R.T + src.t
        cam = cam[cam[:, 2] > 1e-6]
        uv = cam[:, :2] / cam[:, 2:] * np.diag(src.K)[:2] + src.K[:2, 2]
        boxes.append(uv)
    uv = np.concatenate(boxes)
    if len(uv) == 0:
        return None
    x0, y0 = np.clip(np.floor(uv.min(axis=0)) - margin, 0, [src.width, src.height]).astype(int)
    x1, y1 = np.clip(np.ceil(uv.max(axis=0)) + margin, 0, [src.width, src.height]).astype(int)
    return (x0, y0, x1, y1) if x1 - x0 >= 8 and y1 - y0 >= 8 else None


def _hypotheses(depth: np.ndarray, level: int, rng: np.random.Generator) -> tuple[np.ndarray, float, int]:
    """``start`` (h, w), interval and count of the hypotheses, as the cascade would make them."""
    valid = depth[depth > 0]
    near, far = np.percentile(valid, [1, 99]) if len(valid) else (1.0, 2.0)
    inv_near, inv_far = 1 / near, 1 / max(far, 1.05 * near)
    grow = rng.uniform(0.1, 0.3) * (inv_near - inv_far)
    inv_near, inv_far = inv_near + grow, max(inv_far - grow, 0.5 * inv_far)
    _, count, _ = LEVELS[level]
    base = (inv_near - inv_far) / 47
    if level == 0:
        return np.full(depth.shape, inv_near), (inv_near - inv_far) / (count - 1), count
    interval = base * rng.uniform(0.15, 0.5) ** level
    inv = np.where(depth > 0, 1 / np.maximum(depth, 1e-6), inv_near)
    centre = inv + rng.uniform(-0.6, 0.6, depth.shape) * interval * (count - 1) / 2
    return centre + 0.5 * (count - 1) * interval, interval, count


def make_sample(scene: dict, rng: np.random.Generator, photometric: bool = False) -> Sample | None:
    """A random training example from one rendered scene (``None`` when it would be empty); with
    ``photometric``, each view of it looks like another photo of a capture
    (:func:`photogrammetry.synthetic.photometric.photograph`)."""
    from photogrammetry.synthetic.photometric import photograph

    level = int(rng.integers(len(LEVELS)))
    scale, _, crop = LEVELS[level]
    n = len(scene["images"])
    ref_index = int(rng.integers(n))

    def scaled(i: int) -> tuple[np.ndarray, np.ndarray]:
        image = photograph(scene["images"][i], rng) if photometric else scene["images"][i]
        return _downscale(image, scene["depths"][i], scale)

    image, depth = scaled(ref_index)
    height, width = depth.shape
    full_height, full_width = scene["depths"].shape[1:]
    K = np.diag([width / full_width, height / full_height, 1.0]) @ scene["K"]
    crop = (min(crop[0], height), min(crop[1], width))
    y0, x0 = int(rng.integers(0, height - crop[0] + 1)), int(rng.integers(0, width - crop[1] + 1))
    image, depth = image[y0: y0 + crop[0], x0: x0 + crop[1]], depth[y0: y0 + crop[0], x0: x0 + crop[1]]
    if (depth > 0).mean() < 0.2:
        return None
    ref = _view(K, scene["R"][ref_index], scene["t"][ref_index], image.shape[1], image.shape[0], (x0, y0))
    start, interval, count = _hypotheses(depth, level, rng)
    lo, hi = 1 / start, 1 / np.maximum(start - (count - 1) * interval, 1e-6)
    sources = []
    for i in rng.permutation([i for i in range(n) if i != ref_index])[:MAX_SOURCES]:
        full = _view(K, scene["R"][i], scene["t"][i], width, height, (0, 0))
        box = _source_box(ref, lo, hi, full)
        if box is not None:
            bx0, by0, bx1, by1 = box
            view = _view(K, scene["R"][i], scene["t"][i], bx1 - bx0, by1 - by0, (bx0, by0))
            src_image, src_depth = scaled(int(i))
            sources.append((view, src_image[by0:by1, bx0:bx1], src_depth[by0:by1, bx0:bx1]))
    if len(sources) < 2:
        return None
    return Sample(ref=(ref, image, depth), sources=sources, start=start, interval=interval, count=count,
                  level=level)


@dataclass(frozen=True)
class TrainOptions:
    """What ``train`` does besides the data, steps and seed."""

    device: str = "cpu"
    lr: float = 2e-3
    """Peak learning rate (one-cycle schedule) of the regulariser, and of the features when trained afresh."""
    photometric: bool = False
    """Each view of a sample gets its own exposure, white balance, noise, blur and JPEG."""
    regularizer: bool = False
    """Train the volume regulariser jointly (writes ``lite-reg`` weights: features and regulariser)."""
    init: Path | None = None
    """Start from these weights: ``lite`` (the features) or ``lite-reg`` (features and regulariser)."""
    feature_lr_scale: float = 1.0
    """The features' learning rate relative to ``lr``."""
    val: tuple[Path, ...] = ()
    """Folders of held-out scenes (``.npz``): their mean loss is printed every ``val_every`` steps."""
    val_samples: int = 48
    val_every: int = 250
    subpixel_weight: float = 0.0
    """Weight of the smooth-L1 of the refined winner index on the finest level's examples
    (:mod:`photogrammetry.mvs.training`; 0: the cross-entropy alone)."""


def _build(options: TrainOptions):
    """Feature network and regulariser (``None`` unless asked for), on the device."""
    import torch

    from photogrammetry.mvs.network import build_network
    from photogrammetry.mvs.volume_net import build_regularizer

    model = build_network()
    regularizer = build_regularizer() if options.regularizer else None
    if options.init is not None:
        state = torch.load(options.init, map_location="cpu", weights_only=True)
        joint = "features" in state
        model.load_state_dict(state["features"] if joint else state)
        if joint and regularizer is not None:
            regularizer.load_state_dict(state["regularizer"])
    return model.to(options.device), None if regularizer is None else regularizer.to(options.device)


def validation_samples(data: list[Path], count: int, seed: int, photometric: bool) -> list[Sample]:
    """``count`` fixed examples drawn from the held-out scenes in the folders ``data``."""
    scenes = load_training_set(data)
    rng, samples = np.random.default_rng([seed, 99]), []
    for attempt in range(50 * count):
        if len(samples) == count:
            break
        sample = make_sample(scenes[attempt % len(scenes)], rng, photometric)
        if sample is not None:
            samples.append(sample)
    return samples


def _validate(model, regularizer, samples: list[Sample], device: str, step: int) -> None:
    """Print the mean cross-entropy and fraction won within one hypothesis over ``samples``, and the
    finest level's median sub-hypothesis error (hypotheses, mean over its examples)."""
    import torch

    results, errors = [], []
    with torch.no_grad():
        for sample in samples:
            finest = sample.level == len(LEVELS) - 1
            terms = sample_loss(model, sample, device, regularizer=regularizer, subpixel=finest)
            if terms is not None:
                results.append((terms.loss.item(), terms.won))
                errors += [] if terms.subpixel is None else [terms.subpixel]
    loss, won = np.mean(results, axis=0) if results else (float("nan"), float("nan"))
    error = np.mean(errors) if errors else float("nan")
    print(f"step {step}: held-out loss {loss:.3f}, won within 1 {won:.3f}, finest level's sub-hypothesis error "
          f"{error:.3f} ({len(results)} samples, {len(errors)} finest)", flush=True)


def train(data: list[Path], out: Path, steps: int, seed: int, options: TrainOptions = TrainOptions()) -> None:
    """Train from the ``.npz`` scenes in the folders ``data`` and write the weights to ``out``."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    scenes = load_training_set(data)
    print(f"{len(scenes)} scenes from {', '.join(map(str, data))}", flush=True)
    model, regularizer = _build(options)
    groups = [{"params": model.parameters(), "lr": options.lr * options.feature_lr_scale}]
    if regularizer is not None:
        groups.append({"params": regularizer.parameters(), "lr": options.lr})
    optimiser = torch.optim.Adam(groups)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[g["lr"] for g in groups], total_steps=steps,
                                                   pct_start=0.05)
    held_out = validation_samples(list(options.val), options.val_samples, seed, options.photometric) \
        if options.val else []
    params = [p for g in groups for p in g["params"]]
    history, t0, step = [], time.time(), 0
    while step < steps:
        if held_out and step % options.val_every == 0:
            _validate(model, regularizer, held_out, options.device, step)
        sample = make_sample(scenes[int(rng.integers(len(scenes)))], rng, options.photometric)
        weight = options.subpixel_weight if sample is not None and sample.level == len(LEVELS) - 1 else 0.0
        terms = None if sample is None else sample_loss(model, sample, options.device, regularizer=regularizer,
                                                        subpixel_weight=weight)
        if terms is None or not math.isfinite(terms.loss.item()):
            continue
        loss, won = terms.loss, terms.won
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        step += 1
        history.append((loss.item(), won))
        if step % 50 == 0 or step == steps:
            recent = np.array(history[-50:])
            print(f"step {step}: loss {recent[:, 0].mean():.3f}, won within 1 {recent[:, 1].mean():.3f}, "
                  f"T {model.log_temperature.exp().item():.4f}, {time.time() - t0:.0f} s", flush=True)
            _save(model, regularizer, out)
    if held_out:
        _validate(model, regularizer, held_out, options.device, step)


def _save(model, regularizer, out: Path) -> None:
    import torch

    def state(module):
        return {k: v.detach().cpu() for k, v in module.state_dict().items()}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(state(model) if regularizer is None else {"features": state(model), "regularizer": state(regularizer)},
               tmp)
    tmp.replace(out)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``render`` then ``train``."""
    from photogrammetry.mvs.network import WEIGHTS_FILE
    from photogrammetry.mvs.volume_net import REGULARIZED_FILE

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="render random training scenes")
    render.add_argument("--data", type=Path, required=True)
    render.add_argument("--first-seed", type=int, default=1000)
    render.add_argument("--scenes", type=int, default=80)
    render.add_argument("--views", type=int, default=5)
    render.add_argument("--rooms", action="store_true", help="furnished rooms and hand-held camera paths")
    fit = sub.add_parser("train", help="train the network")
    fit.add_argument("--data", type=Path, nargs="+", required=True, help="folders of rendered scenes")
    fit.add_argument("--out", type=Path, help=f"weights file (default: {WEIGHTS_FILE.name}, with --regularizer "
                                              f"{REGULARIZED_FILE.name}, in {WEIGHTS_FILE.parent})")
    fit.add_argument("--steps", type=int, default=4000)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--lr", type=float, default=2e-3)
    fit.add_argument("--device", default="cpu")
    fit.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    fit.add_argument("--photometric", action="store_true", help="views differ as photos do (exposure, noise, ...)")
    fit.add_argument("--regularizer", action="store_true", help="train the volume regulariser too (lite-reg)")
    fit.add_argument("--init", type=Path, help="start from these lite (features) or lite-reg weights")
    fit.add_argument("--feature-lr-scale", type=float, default=1.0, help="features' learning rate over --lr")
    fit.add_argument("--val", type=Path, nargs="+", default=[], help="folders of held-out scenes (.npz)")
    fit.add_argument("--val-every", type=int, default=250)
    fit.add_argument("--val-samples", type=int, default=48)
    fit.add_argument("--subpixel-weight", type=float, default=0.0,
                     help="weight of a smooth-L1 of the refined winner index on the finest level (0: off)")
    args = parser.parse_args(argv)
    if args.command == "render":
        render_training_set(args.data, args.first_seed, args.scenes, args.views, rooms=args.rooms)
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = args.out or (REGULARIZED_FILE if args.regularizer else WEIGHTS_FILE)
    options = TrainOptions(device=args.device, lr=args.lr, photometric=args.photometric, regularizer=args.regularizer,
                           init=args.init, feature_lr_scale=args.feature_lr_scale, val=tuple(args.val),
                           val_every=args.val_every, val_samples=args.val_samples,
                           subpixel_weight=args.subpixel_weight)
    try:
        train(args.data, out, args.steps, args.seed, options)
    except InputError as err:
        raise SystemExit(str(err)) from None


if __name__ == "__main__":
    main()
