"""Where the depth error on a real set comes from: a per-pixel breakdown against the sensor.

    python benchmarks/mvs.py --real office --frames 12 --first-frame 8 --cameras true --scenes "" \\
        --methods lite-ncc --work /tmp/w
    python benchmarks/mvs_error.py --work /tmp/w --frames 12 --first-frame 8 --views 4 --images /tmp/err

Reads the depth maps that ``benchmarks/mvs.py`` left in ``--work`` (true cameras), and for a few
views compares them pixel by pixel with the sensor depth of the same frame (pixel-aligned). Beside
the maps' own error it measures, with the method's own matching cost at the finest level:

- the **cost's optimum near the sensor**: each pixel's similarity at depths ``sensor * (1 + s)`` for
  ``s`` in +-``--span`` (``--steps`` values), averaged over the best 2 sources as in the sweep, no
  aggregation: where its maximum lies is what any search of that cost can find at best (with these
  cameras); the same per source (do the sources agree on a depth?);
- whether a wrong depth is a search failure (the cost is higher near the sensor than at our depth)
  or the cost's (its optimum is as far off as ours);
- the error by surface slant (sensor normals against the viewing ray) and by depth;
- the sensor against itself: a frame's sensor depth carried by the true cameras onto the next
  frames', per pixel (how much of the 2 % budget the yardstick eats).

Images (``--images``): per view, the photo, the kept and raw relative error, the cost's optimum
(``s`` at the maximum), each -5 % blue to +5 % red.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.mvs_real import sensor_posed, true_scene
from benchmarks.sets import available_sets, first_frames, set_ground_truth
from benchmarks.table import print_markdown
from photogrammetry.evaluation import gt_depth_map
from photogrammetry.evaluation.sensor_depth import lift, sample
from photogrammetry.mvs.cost import INVALID, MatchCost, aggregate_sources, similarity, winner_take_all
from photogrammetry.mvs.geometry import normals_from_depth, pixel_grid, project, relative_projection
from photogrammetry.mvs.geometry import sample as sample_features
from photogrammetry.mvs.methods import method_spec
from photogrammetry.mvs.multiview import read_image

TOLERANCES = (0.01, 0.02, 0.05)


def within(err: np.ndarray) -> list[float]:
    """Fractions of ``|err|`` within each of :data:`TOLERANCES` (NaN when empty)."""
    return [float(np.mean(np.abs(err) <= t)) if err.size else float("nan") for t in TOLERANCES]


def features(extractor, views) -> list:
    """Finest-level feature maps (C, H, W) of ``views``."""
    import torch

    with torch.inference_mode():
        return [extractor(torch.from_numpy(read_image(v)).permute(2, 0, 1)[None].float() / 255.0)[0] for v in views]


def cost_near(view, sources, feats: list, cost: MatchCost, depth: np.ndarray, offsets: np.ndarray,
              shifts: np.ndarray | None = None, chunk: int = 4) -> np.ndarray:
    """(S, D, H, W) per-source similarity of the finest level at depths ``depth * (1 + offsets[d])``,
    each source's samples moved by its ``shifts[s]`` (du, dv) pixels when given."""
    import torch

    ref = feats[0]
    height, width = depth.shape
    pixels = pixel_grid(height, width)
    base = torch.from_numpy(depth.reshape(1, -1)).float()
    kind = cost.refine_similarity or cost.similarity
    out = []
    with torch.inference_mode():
        for src, feat in zip(sources, feats[1:], strict=True):  # noqa: B007
            A, b = relative_projection(view, src)
            if shifts is not None:  # a shift of the source pixels: T @ (d A p + b)
                T = np.array([[1, 0, shifts[len(out)][0]], [0, 1, shifts[len(out)][1]], [0, 0, 1.0]])
                A, b = T @ A, T @ b
            A, b = (torch.as_tensor(x, dtype=torch.float32) for x in (A, b))
            scores = []
            for d0 in range(0, len(offsets), chunk):
                scale = torch.as_tensor(1.0 + offsets[d0:d0 + chunk], dtype=torch.float32)[:, None]
                uv, z = project(A, b, pixels, base * scale)
                warped, inside = sample_features(feat, uv)
                warped = warped.reshape(feat.shape[0], -1, height, width)
                score = similarity(ref, warped, kind, cost.window_radius, cost.grey_channel, overwrite=True,
                                   ncc_radius=cost.radius("ncc"), ncc_weight=cost.ncc_weight)
                valid = ((z > 0) & inside).reshape(-1, height, width)
                scores.append(torch.where(valid, score, INVALID))
            out.append(torch.cat(scores))
    return torch.stack(out).numpy()


def best_shift(view, src, feats: list, cost: MatchCost, depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(du, dv): the shift of ``src``'s pixels (a grid to 1/8 px within +-1.5 px) that maximises the mean
    similarity over ``mask`` at ``depth``: how far the photos sit from where the cameras and the
    sensor put them (2 numbers per pair: it cannot fit the depth, only a misregistration)."""
    def mean_score(shift) -> float:
        return float(cost_near(view, [src], feats, cost, depth, np.zeros(1), np.array([shift]))[0, 0][mask].mean())

    centre = np.zeros(2)
    for step, count in ((0.5, 3), (0.125, 3)):
        grid = [centre + step * np.array([i, j]) for i in range(-count, count + 1) for j in range(-count, count + 1)]
        centre = max(grid, key=mean_score)
    return centre


def peak(volume: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(H, W) offset at the maximum of a (D, H, W) volume, refined by the sweep's own parabola
    (:func:`~photogrammetry.mvs.cost.winner_take_all`; NaN at the ends)."""
    import torch

    index = winner_take_all(torch.from_numpy(volume), 1.0).index.numpy()
    inner = (index > 0) & (index < len(offsets) - 1)
    return np.where(inner, offsets[0] + index * (offsets[1] - offsets[0]), np.nan)


def colour(err: np.ndarray, valid: np.ndarray, limit: float = 0.05) -> np.ndarray:
    """BGR image of a relative error, -limit blue to +limit red, black where not valid."""
    t = np.clip((np.nan_to_num(err) / limit + 1) / 2, 0, 1)
    img = cv2.applyColorMap((t * 255).astype(np.uint8), cv2.COLORMAP_JET)
    img[~valid] = 0
    return img


def slant(sensor: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W) angle in degrees between the sensor surface's normal and the reversed viewing ray."""
    normal = normals_from_depth(sensor, K, 2)
    h, w = sensor.shape
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    ray = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    cos = np.abs(np.sum(normal * ray, axis=-1))
    angle = np.degrees(np.arccos(np.clip(cos, 0, 1)))
    return np.where(np.linalg.norm(normal, axis=-1) > 0.5, angle, np.nan)


def sensor_self(gt, names: list[str], gaps: tuple[int, ...]) -> list[list]:
    """Per frame gap: a frame's sensor depth carried onto a later frame's and compared per pixel."""
    rows = []
    for gap in gaps:
        errs = []
        for a, b in zip(names, names[gap:], strict=False):
            pts, _ = lift(sensor_posed(gt, a))
            z, found = sample(sensor_posed(gt, b), pts)
            ok = found > 0
            errs.append(z[ok] / found[ok] - 1)
        e = np.concatenate(errs)
        rows.append([f"sensor {gap} frame(s) later", len(e), *[f"{x:.3f}" for x in within(e)],
                     f"{np.median(np.abs(e)):.4f}", f"{np.median(e):+.4f}"])
    return rows


def view_breakdown(name: str, depth_dir: Path, gt, scene, info: dict, cost: MatchCost, extractor,
                   offsets: np.ndarray, images: Path | None, shift_to: str = "sensor") -> dict[str, np.ndarray]:
    """Per-pixel arrays of one view (flattened over its pixels with a sensor depth)."""
    view = scene.views[name]
    sensor = gt_depth_map(gt, name).astype(np.float64)
    raw = np.load(depth_dir / ".raw" / f"{name}.depth.npy").astype(np.float64)
    kept = np.load(depth_dir / "depth" / f"{name}.npy").astype(np.float64)
    has = sensor > 0
    filled = np.where(has, sensor, raw).astype(np.float32)  # windows across sensor holes see our depth
    sources = [scene.views[s] for s in info["sources"]]
    import torch

    feats = features(extractor, [view, *sources])
    per_source = cost_near(view, sources, feats, cost, filled, offsets)
    both = aggregate_sources(torch.from_numpy(per_source), cost.best_sources).numpy()
    optimum = peak(both, offsets)
    src_opt = np.stack([peak(v, offsets) for v in per_source])
    grey = cv2.cvtColor(read_image(view), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    texture = np.sqrt(np.maximum(cv2.blur(grey**2, (5, 5)) - cv2.blur(grey, (5, 5))**2, 0))
    fit = has & (texture > 0.02)
    target = filled if shift_to == "sensor" else raw.astype(np.float32)
    shifts = np.stack([best_shift(view, s, [feats[0], f], cost, target, fit) for s, f in zip(sources, feats[1:],
                                                                                            strict=True)])
    shifted = cost_near(view, sources, feats, cost, filled, offsets, shifts)
    optimum_shifted = peak(aggregate_sources(torch.from_numpy(shifted), cost.best_sources).numpy(), offsets)
    src_shifted = np.stack([peak(v, offsets) for v in shifted])
    raw_err = raw / np.where(has, sensor, 1) - 1
    # the aggregated similarity at our depth (interpolated along s) and at the sensor's
    pos = np.clip((raw_err - offsets[0]) / (offsets[1] - offsets[0]), 0, len(offsets) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(offsets) - 2)
    frac = pos - lo
    at_ours = (np.take_along_axis(both, lo[None], 0)[0] * (1 - frac) +
               np.take_along_axis(both, (lo + 1)[None], 0)[0] * frac)
    at_sensor = both[np.argmin(np.abs(offsets))]
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        photo = cv2.cvtColor(read_image(view), cv2.COLOR_RGB2BGR)
        top = np.hstack([photo, colour(kept / np.where(has, sensor, 1) - 1, has & (kept > 0))])
        bottom = np.hstack([colour(raw_err, has), colour(optimum, has & np.isfinite(optimum))])
        third = np.hstack([colour(optimum_shifted, has & np.isfinite(optimum_shifted)),
                           colour(src_opt[0], has & np.isfinite(src_opt[0]))])
        cv2.imwrite(str(images / f"{Path(name).stem}.png"), np.vstack([top, bottom, third]))
    sel = has
    return {"sensor": sensor[sel], "raw_err": raw_err[sel], "kept": (kept > 0)[sel], "optimum": optimum[sel],
            "src_opt": src_opt[:, sel], "optimum_shifted": optimum_shifted[sel], "src_shifted": src_shifted[:, sel],
            "shifts": shifts, "at_ours": at_ours[sel], "at_sensor": at_sensor[sel],
            "best": both.max(axis=0)[sel], "slant": slant(np.where(has, sensor, 0), view.K)[sel],
            "texture": texture[sel], "inrange": (np.abs(raw_err) < offsets[-1])[sel]}


def breakdown_rows(label: str, a: dict[str, np.ndarray], mask: np.ndarray) -> list:
    """One table row: within 1/2/5 % of ours, of the cost's optimum, ours against the optimum."""
    ours, opt = a["raw_err"][mask], a["optimum"][mask]
    found = np.isfinite(opt)
    return [label, int(mask.sum()), *[f"{x:.3f}" for x in within(ours)],
            *[f"{x:.3f}" for x in within(np.where(found, opt, 1.0))],
            f"{within((ours - opt)[found])[0]:.3f}", f"{np.mean(found):.3f}"]


def causes(a: dict[str, np.ndarray]) -> list[list]:
    """Kept pixels more than 2 % off: where the cost's optimum lies and which depth the cost prefers."""
    bad = a["kept"] & (np.abs(a["raw_err"]) > 0.02)
    opt, n = a["optimum"], max(int(bad.sum()), 1)
    off = bad & (np.abs(np.nan_to_num(opt, nan=1.0)) > 0.02)
    near_ours = off & (np.abs(a["raw_err"] - opt) <= 0.01)
    search = bad & (np.abs(np.nan_to_num(opt, nan=1.0)) <= 0.02)
    prefers_sensor = bad & a["inrange"] & (a["at_sensor"] > a["at_ours"])
    return [["kept and > 2 % off", int(bad.sum()), "1.000"],
            ["... the cost's optimum > 2 % off too", int(off.sum()), f"{off.sum() / n:.3f}"],
            ["... ... and within 1 % of ours", int(near_ours.sum()), f"{near_ours.sum() / n:.3f}"],
            ["... the cost's optimum within 2 % (search failure)", int(search.sum()), f"{search.sum() / n:.3f}"],
            ["... the cost higher at the sensor's depth than at ours", int(prefers_sensor.sum()),
             f"{prefers_sensor.sum() / n:.3f}"]]


def binned(a: dict[str, np.ndarray], key: str, edges: list[float], unit: str) -> list[list]:
    """Kept pixels by bins of ``a[key]``: count, ours and the optimum within 2 %, median signed errors."""
    rows = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        m = a["kept"] & (a[key] >= lo) & (a[key] < hi)
        if m.sum() < 50:
            continue
        opt = a["optimum"][m]
        rows.append([f"{lo:g}-{hi:g} {unit}", int(m.sum()), f"{within(a['raw_err'][m])[1]:.3f}",
                     f"{within(np.nan_to_num(opt, nan=1.0))[1]:.3f}", f"{np.median(a['raw_err'][m]):+.4f}",
                     f"{np.nanmedian(opt):+.4f}"])
    return rows


def source_rows(parts: dict[str, dict], info: dict) -> list[list]:
    """Per view and source: the median of that source's own optimum over the textured kept pixels and
    its share within 2 %, before and after its shift, and the shift."""
    rows = []
    for n, a in parts.items():
        m = a["kept"] & (a["texture"] > 0.03)
        for k, src in enumerate(info[n]["sources"]):
            cells = []
            for key in ("src_opt", "src_shifted"):
                o = a[key][k][m]
                o = o[np.isfinite(o)]
                cells += [f"{np.median(o):+.4f}" if o.size else "-", f"{within(o)[1]:.2f}" if o.size else "-"]
            rows.append([n, src, *cells, f"{a['shifts'][k][0]:+.3f}, {a['shifts'][k][1]:+.3f}"])
    return rows


def report(parts: dict[str, dict], info: dict, gt, names: list[str]) -> None:
    """Print the tables (see the module docstring)."""
    rows = []
    for n, a in parts.items():
        rows.append(breakdown_rows(f"{n} kept", a, a["kept"]))
        rows.append(breakdown_rows(f"{n} raw", a, np.ones_like(a["kept"])))
    every = {k: np.concatenate([p[k] for p in parts.values()], axis=-1) for k in next(iter(parts.values()))
             if k not in ("src_opt", "src_shifted", "shifts")}
    rows.append(breakdown_rows("all kept", every, every["kept"]))
    rows.append(breakdown_rows("all raw", every, np.ones_like(every["kept"])))
    rows.append(breakdown_rows("all textured kept", every, every["kept"] & (every["texture"] > 0.03)))
    shifted = dict(every, optimum=every["optimum_shifted"])
    rows.append(breakdown_rows("all kept, sources shifted", shifted, every["kept"]))
    rows.append(breakdown_rows("all raw, sources shifted", shifted, np.ones_like(every["kept"])))
    print_markdown(["view", "pixels", "ours <=1%", "<=2%", "<=5%", "cost's optimum <=1%", "<=2%", "<=5%",
                    "ours within 1 % of the optimum", "optimum inside the span"], rows)
    print()
    print_markdown(["kept pixels", "count", "share"], causes(every))
    print()
    print_markdown(["view", "source", "optimum median", "<=2%", "shifted: median", "<=2%", "shift (du, dv) px"],
                   source_rows(parts, info))
    head = ["bin", "kept", "ours <=2%", "optimum <=2%", "ours median", "optimum median"]
    for key, edges, unit in (("slant", [0, 20, 40, 60, 75, 90], "deg"), ("sensor", [0, 1, 1.5, 2, 2.5, 3, 4, 9], "m"),
                             ("texture", [0, 0.01, 0.02, 0.04, 0.08, 1], "grey std")):
        print()
        print_markdown(head, binned(every, key, edges, unit))
    print()
    print_markdown(["pairs", "pixels", "<=1%", "<=2%", "<=5%", "median |err|", "median err"],
                   sensor_self(gt, names, (1, 2, 4)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="benchmarks/mvs.py's --work folder")
    parser.add_argument("--set", default="office", help="a real set with sensor depth")
    parser.add_argument("--frames", type=int, default=12, help="as given to benchmarks/mvs.py")
    parser.add_argument("--first-frame", type=int, default=8, help="as given to benchmarks/mvs.py")
    parser.add_argument("--method", default="lite-ncc", help="the method whose maps (and cost) are analysed")
    parser.add_argument("--views", type=int, default=4, help="views analysed, spread along the frames")
    parser.add_argument("--names", default="", help="views analysed, comma-separated (instead of --views)")
    parser.add_argument("--span", type=float, default=0.08, help="relative depths searched around the sensor's")
    parser.add_argument("--steps", type=int, default=65, help="depths searched within the span")
    parser.add_argument("--shift-to", choices=("sensor", "ours"), default="sensor",
                        help="the depth each source's shift is fitted at: the sensor's or our raw map's")
    parser.add_argument("--images", type=Path, default=None, help="folder for the error images")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    bset = first_frames(available_sets()[args.set], args.frames, args.work / "diag-photos", start=args.first_frame)
    gt = set_ground_truth(bset)
    names = sorted(gt.views)
    depth_dir = args.work / bset.name / f"depth-true-{args.method}"
    if not (depth_dir / "depth.json").is_file():
        raise SystemExit(f"{depth_dir}/depth.json not found: run benchmarks/mvs.py --real {args.set} --frames "
                         f"{args.frames} --first-frame {args.first_frame} --cameras true --methods {args.method} "
                         f"--work {args.work} first")
    info = {v["name"]: v for v in json.loads((depth_dir / "depth.json").read_text())["views"]}
    scene = true_scene(gt, names)
    method = method_spec(args.method)
    extractor = method.build(None, "cpu", False)
    cost = MatchCost(similarity=method.similarity, refine_similarity=method.refine_similarity,
                     grey_channel=method.grey_channel, window_radius=method.window_radius,
                     ncc_radius=method.ncc_radius, temperature=method.temperature)
    offsets = np.linspace(-args.span, args.span, args.steps)
    picked = args.names.split(",") if args.names else \
        [names[i] for i in np.linspace(0, len(names) - 1, args.views).round().astype(int)]
    unknown = [n for n in picked if n not in info or not info[n]["sources"]]
    if unknown:
        raise SystemExit(f"--names: {', '.join(unknown)} not among the views with sources in {depth_dir}; "
                         f"choose among {', '.join(n for n in names if info.get(n, {}).get('sources'))}")
    report({n: view_breakdown(n, depth_dir, gt, scene, info[n], cost, extractor, offsets, args.images, args.shift_to)
            for n in picked}, info, gt, names)


if __name__ == "__main__":
    main()
