"""Learned matches only where SIFT breaks: XFeat + LighterGlue for the images around a break, then mapped again.

SIFT with nearest neighbours (the ``cpu`` preset) maps most of a walk, but where the camera turns fast
its raw matches across the turn are too few and mostly wrong: on the real office walk (60 frames)
frames 00150-00172 are left out, 26-32 raw matches across frame 174 of which 2-3 fit the true
cameras. XFeat + LighterGlue (``--preset xfeat``) registers all 60 there, but with worse poses
elsewhere and in 1.8x the time.

After the sfm stage has mapped, where the chosen model leaves images out or hangs a part of itself on
a weak link (:mod:`photogrammetry.sfm.links`), this module:

1. picks the images around each break: each image left out and the images within
   ``learned_bridge.neighbours`` of it in name order (a sequence's neighbours); for a weak link, the
   images of either side within ``neighbours`` in name order of an image of the other side;
2. extracts XFeat features of those images only and matches with LighterGlue the pairs among them at
   most ``neighbours`` apart in name order (the registered ones too: a track must run through the
   break's images, and SIFT's keypoints are not XFeat's), and each image left out with the
   ``most_matched`` registered images it shares the most raw matches with;
3. appends the keypoints after each image's own in the database (indices of the SIFT keypoints stay
   valid, as the SIFT assist does, :mod:`photogrammetry.sfm.sift`) and the matches to the pair's raw
   matches, verifies those pairs again (full RANSAC, the chance check) and keeps the geometry with
   more inliers;
4. continues the incremental mapper from the chosen model (its images given the appended keypoints,
   :func:`with_keypoints`, and the learned matches among them triangulated first, :func:`extend`): the
   images left out register onto it, and a weak link gets the new points across it. Seconds (2-12 s on
   the office walk), and the bulk starts from its own poses (``learned_bridge.remap``: mapped again);
5. keeps the new model where it registers more images, or as many with no weaker link, and keeps the
   old model's scale (:func:`~photogrammetry.sfm.continuity.keeps_scale`, on the images of the old
   model that do not hang on a weak link). Otherwise the database is put back as it was.

Where nothing is left out and no link is weak (the temple, fountain and facade) nothing runs. Only for
SIFT features (the learned presets match with LightGlue already). Off by default (``learned_bridge.enabled``).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photogrammetry.errors import StageError
from photogrammetry.sfm.bridge_options import LearnedBridgeOptions
from photogrammetry.sfm.colmap import colmap_errors

if TYPE_CHECKING:
    from photogrammetry.sfm.mapping import MappingOutcome
    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")


@dataclass(frozen=True)
class Break:
    """Where the model breaks: the images to bridge and the pairs (image names) to match."""

    images: tuple[str, ...]
    """Images that get learned features, in name order."""
    pairs: tuple[tuple[str, str], ...]
    """Pairs to match with LighterGlue."""
    hanging: frozenset[str]
    """Registered images on the small side of a weak link (their scale is not held to)."""


def _window(order: list[str], name: str, k: int) -> list[str]:
    i = order.index(name)
    return [order[j] for j in range(max(0, i - k), min(len(order), i + k + 1)) if j != i]


def find_break(order: list[str], registered: set[str], weak: list[tuple[str, ...]], raw: dict[tuple[str, str], int],
               options: LearnedBridgeOptions) -> Break | None:
    """The images and pairs around the model's breaks (see the module docstring), ``None`` where there is none.

    Args:
        order: Every image name, sorted.
        registered: Names the chosen model registered.
        weak: The images of the small side of each weak link.
        raw: Raw match counts by name pair (either order).
        options: The bridge's options.
    """
    k, index = options.neighbours, {name: i for i, name in enumerate(order)}
    window: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for name in (n for n in order if n not in registered):
        window |= {name, *_window(order, name, k)}
        counts = sorted(((c, b if a == name else a) for (a, b), c in raw.items() if name in (a, b)
                         and (b if a == name else a) in registered), reverse=True)
        pairs |= {tuple(sorted((name, other))) for _, other in counts[:options.most_matched]}
    hanging: set[str] = set()
    for side in weak:
        hanging |= set(side)
        other = registered - set(side)
        window |= {a for a in side for b in _window(order, a, k) if b in other}
        window |= {b for b in other for a in _window(order, b, k) if a in side}
    # every pair of the window close in name order: a track must run through the images at the break, so
    # the registered neighbours are matched with each other as well as with the images left out
    ordered = sorted(window, key=index.get)
    pairs |= {(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:] if index[b] - index[a] <= k}
    if not pairs:
        return None
    images = sorted({n for p in pairs for n in p})
    if len(images) > options.max_images:
        rank = {n: min(abs(order.index(n) - order.index(m)) for m in order if m not in registered or m in hanging)
                for n in images}
        images = sorted(sorted(images, key=lambda n: (rank[n], n))[:options.max_images])
        pairs = {p for p in pairs if p[0] in images and p[1] in images}
    return Break(tuple(images), tuple(sorted(pairs)), frozenset(hanging))


def learned_matches(images: Path, found: Break, options: LearnedBridgeOptions, device: str) -> tuple[
        dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """XFeat keypoints ``(N, 2)`` (COLMAP's convention, the image's pixels) of ``found.images`` and
    LighterGlue matches ``(M, 2)`` (indices into them) of ``found.pairs``."""
    from photogrammetry.features import ExtractorOptions, extract, load_extractor, load_for_extraction
    from photogrammetry.matching import MatcherOptions, load_matcher

    extractor = load_extractor("xfeat", ExtractorOptions(max_keypoints=options.max_keypoints), device)
    features = {name: extract(extractor, [load_for_extraction(images / name, None, options.resize_max)])[0]
                for name in found.images}
    # as the xfeat preset: LighterGlue without early stopping, as its authors and kornia run it
    matcher = load_matcher("lightglue", "xfeat", MatcherOptions(depth_confidence=-1.0, width_confidence=0.95), device)
    prepared = {name: matcher.prepare(f) for name, f in features.items()}
    matches = {(a, b): matcher.match(prepared[a], prepared[b]).indices for a, b in found.pairs}
    return {name: f.keypoints for name, f in features.items()}, matches


def merge(database: Path, keypoints: dict[str, np.ndarray], matches: dict[tuple[str, str], np.ndarray]) -> int:
    """Append ``keypoints`` after each image's own in ``database`` and ``matches`` (offset to them) to the
    pairs' raw matches; the matches added."""
    import pycolmap

    added = 0
    with pycolmap.Database.open(database) as db:
        ids = {im.name: im.image_id for im in db.read_all_images()}
        offsets = {}
        for name, extra in keypoints.items():
            own = np.asarray(db.read_keypoints(ids[name]))[:, :2]
            offsets[name] = len(own)
            joined = np.concatenate([own, np.asarray(extra, np.float32).reshape(-1, 2)])
            db.update_keypoints(ids[name], np.ascontiguousarray(joined, dtype=np.float32))
        for (a, b), m in matches.items():
            if len(m) == 0:
                continue
            if ids[a] > ids[b]:
                a, b, m = b, a, np.asarray(m)[:, ::-1]
            merged = np.asarray(m, np.int64) + [offsets[a], offsets[b]]
            if db.exists_matches(ids[a], ids[b]):  # pycolmap reads and writes pairs in the order asked
                merged = np.concatenate([np.asarray(db.read_matches(ids[a], ids[b]), np.int64).reshape(-1, 2), merged])
                db.delete_matches(ids[a], ids[b])
            db.write_matches(ids[a], ids[b], np.ascontiguousarray(merged, dtype=np.uint32))
            added += len(m)
    return added


def verify_pairs(database: Path, config: SfmOptions, pairs: list[tuple[str, str]]) -> int:
    """Verify ``pairs`` (names) of ``database`` again on their raw matches (full RANSAC, the check for
    chance inliers); a pair's new geometry replaces its old one where it has more inliers. Returns the
    pairs now verified with at least ``verification.min_inliers`` inliers."""
    import pycolmap

    from photogrammetry.sfm.verification import PairCheck

    check = PairCheck.of(config)
    passed = 0
    with pycolmap.Database.open(database) as db:
        cameras = {c.camera_id: c for c in db.read_all_cameras()}
        images = {im.name: im for im in db.read_all_images()}
        camera_of = {im.image_id: cameras[im.camera_id] for im in images.values()}
        keypoints: dict[int, np.ndarray] = {}  # read once per image: each image is in several pairs
        for a, b in pairs:
            id1, id2 = sorted((images[a].image_id, images[b].image_id))
            if not db.exists_matches(id1, id2):
                continue
            m = np.asarray(db.read_matches(id1, id2), dtype=np.uint32).reshape(-1, 2)
            old = db.read_two_view_geometry(id1, id2) if db.exists_two_view_geometry(id1, id2) else None
            before = 0 if old is None else len(old.inlier_matches)
            for i in (id1, id2):
                if i not in keypoints:
                    keypoints[i] = np.asarray(db.read_keypoints(i))[:, :2].astype(np.float64)
            found, count = check.estimate(camera_of[id1], keypoints[id1], camera_of[id2], keypoints[id2], m)
            if count > before and count >= check.least:
                if old is not None:
                    db.delete_two_view_geometry(id1, id2)
                db.write_two_view_geometry(id1, id2, found)
            passed += max(count, before) >= check.least
    return passed


def _raw_counts(database: Path) -> dict[tuple[str, str], int]:
    import pycolmap

    with pycolmap.Database.open(database) as db:
        names = {im.image_id: im.name for im in db.read_all_images()}
        pair_ids, matches = db.read_all_matches()
    return {tuple(names[int(i)] for i in pycolmap.pair_id_to_image_pair(p)): len(m) for p, m in zip(pair_ids, matches)}


def weakest(model: Any, min_points: int) -> tuple[int, int]:
    """How strong ``model``'s weakest link is, larger where stronger: ``(-links, fewest points across one)``
    of its weak links (``(0, min_points)`` where none)."""
    from photogrammetry.sfm import links

    found = links.find(model, min_points)
    return -len(found), min((w.points for w in found), default=min_points)


def _better(old: Any, new: Any, config: SfmOptions, hanging: frozenset[str]) -> bool:
    """Whether ``new`` replaces ``old``: more images, or as many with fewer or stronger weak links, and
    ``old``'s scale kept on its images that do not hang on a weak link."""
    from photogrammetry.sfm import plausible
    from photogrammetry.sfm.continuity import keeps_scale

    limit = config.weak_link_points
    more = new.num_reg_images() > old.num_reg_images()
    stronger = (new.num_reg_images() == old.num_reg_images() and bool(hanging)
                and weakest(new, limit) > weakest(old, limit))
    if not (more or stronger):
        log.info("learned bridge: the new model registers %d images (%d before)%s: not used", new.num_reg_images(),
                 old.num_reg_images(), ", its weak links no stronger" if hanging else "")
        return False
    if hanging:
        old = plausible.without(old, [plausible.Dropped(n, "on a weak link") for n in sorted(hanging)])
    return keeps_scale(old, new, config.mapping.retry_max_scale_change, "the learned bridge")


def bridge(database: Path, images: Path, scratch: Path, config: SfmOptions, outcome: MappingOutcome, *,
           num_threads: int, device: str) -> MappingOutcome:
    """``outcome`` mapped again with learned matches where its chosen model breaks (see the module
    docstring), or ``outcome`` itself where nothing breaks or the new model is not better.

    Args:
        database: The verified database the mapping ran on (its cameras hold the focal length found).
        images: Folder where each image is found under its name.
        scratch: Folder for the new mapping (removed by the caller).
        config: The sfm options (``learned_bridge``, ``weak_link_points``, the mapping's).
        outcome: The mapping's outcome; its first model is the chosen one.
        num_threads: Threads COLMAP may use.
        device: Torch device for XFeat and LighterGlue.
    """
    import time

    from photogrammetry.sfm import links, mapping

    options, old = config.learned_bridge, outcome.models[0]
    registered = {old.image(i).name for i in old.reg_image_ids()}
    raw = _raw_counts(database)
    order = sorted({n for pair in raw for n in pair} | registered)
    weak = [w.images for w in links.find(old, config.weak_link_points)]
    found = find_break(order, registered, weak, raw, options)
    if found is None:
        return outcome
    missing = [name for name in found.images if not (images / name).is_file()]
    if missing:  # inputs without pixels (synthetic tests): nothing to extract
        log.info("learned bridge: no image file for %s: not run", ", ".join(missing[:5]))
        return outcome
    start = time.perf_counter()
    left = [n for n in order if n not in registered]
    log.info("learned bridge: %d image(s) left out%s; XFeat + LighterGlue on %d photos (%s), %d pairs: %s",
             len(left), f", {len(weak)} weak link(s)" if weak else "", len(found.images), ", ".join(found.images),
             len(found.pairs), ", ".join(f"{a}-{b}" for a, b in found.pairs))
    keypoints, matches = learned_matches(images, found, options, device)
    matched = time.perf_counter()
    backup = database.with_name(f".{database.name}.before_bridge")
    shutil.copyfile(database, backup)
    added = merge(database, keypoints, matches)
    verified = verify_pairs(database, config, list(found.pairs))
    log.info("learned bridge: %d learned matches added, %d of %d pairs verified (%.1f s extracting and matching, "
             "%.1f s verifying)", added, verified, len(found.pairs), matched - start, time.perf_counter() - matched)
    new = _map_again(database, images, scratch, config, outcome, num_threads)
    if new is not None and _better(old, new.models[0], config, found.hanging):
        log.info("learned bridge: kept, %d images registered (%d before), %.1f s in all",
                 new.models[0].num_reg_images(), old.num_reg_images(), time.perf_counter() - start)
        backup.unlink()
        return mapping.MappingOutcome(new.models, new.mapper,
                                      (*outcome.attempts, *(f"learned bridge: {a}" for a in new.attempts)))
    backup.replace(database)
    return outcome


def _map_again(database: Path, images: Path, scratch: Path, config: SfmOptions, outcome: MappingOutcome,
               num_threads: int) -> MappingOutcome | None:
    """:func:`extend`, or with ``learned_bridge.remap`` the stage's mapping from nothing
    (:func:`~photogrammetry.sfm.mapping.reconstruct`, its retries included); ``None`` where it finds no model."""
    import pycolmap

    from photogrammetry.sfm import mapping
    from photogrammetry.sfm.database import connected_images

    try:
        if not config.learned_bridge.remap:
            return extend(database, images, scratch, config, outcome, num_threads)
        with pycolmap.Database.open(database) as db:
            num_images = len(db.read_all_images())
        return mapping.reconstruct(database, images, scratch, config, num_images=num_images,
                                   connected=connected_images(database, config.mapping.min_num_matches),
                                   num_threads=num_threads)
    except StageError as error:
        log.info("learned bridge: mapping again failed (%s): not used", error)
        return None


def with_keypoints(model: Any, database: Path, folder: Path) -> Path:
    """``model`` written to ``folder`` with each image's keypoints appended in ``database`` after its own
    as observations of no 3D point: COLMAP's mapper refuses an input model whose images hold fewer 2D
    points than the database (``reconstruction.cc``: ``image.NumPoints2D() == existing_image.NumPoints2D()``),
    and pycolmap sets an image's 2D points only where it has none. Written as text, extended, read back."""
    import pycolmap

    text = folder / "text"
    text.mkdir(parents=True, exist_ok=True)
    model.write_text(str(text))
    with pycolmap.Database.open(database) as db:
        keypoints = {int(i): np.asarray(db.read_keypoints(int(i)))[:, :2] for i in model.reg_image_ids()}
    lines, out = (text / "images.txt").read_text(encoding="utf-8").splitlines(), []
    i = 0
    while i < len(lines):
        if lines[i].startswith("#") or not lines[i].strip():
            out.append(lines[i])
            i += 1
            continue
        head, points = lines[i], lines[i + 1]  # an image's line, then its 2D points: X Y POINT3D_ID ...
        extra = keypoints[int(head.split()[0])][len(points.split()) // 3:]
        added = " ".join(f"{x:.6f} {y:.6f} -1" for x, y in extra)
        out += [head, " ".join(part for part in (points.strip(), added) if part)]
        i += 2
    (text / "images.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    binary = folder / "model"
    binary.mkdir(parents=True, exist_ok=True)
    pycolmap.Reconstruction(str(text)).write(str(binary))
    return binary


def extend(database: Path, images: Path, scratch: Path, config: SfmOptions, outcome: MappingOutcome,
           num_threads: int) -> MappingOutcome:
    """The incremental mapper continued from ``outcome``'s chosen model on the bridged ``database``: the
    images left out register onto it (and its bundle adjustments refine it): 2-12 s on the office walk,
    and the bulk keeps its poses to begin with."""
    import pycolmap

    from photogrammetry.sfm import mapping

    options = mapping.incremental_options(config, num_threads)
    start = with_keypoints(outcome.models[0], database, scratch / "input")
    triangulated, out = scratch / "triangulated", scratch / "extended"
    for folder in (triangulated, out):
        folder.mkdir(parents=True, exist_ok=True)
    with colmap_errors("incremental mapping from the model", "try --set sfm.learned_bridge.enabled=false"):
        # the learned matches among the registered images at the break triangulated first: the images left
        # out register on those points (without them, office-60 registered 0-12 of its 12 in three tries)
        pycolmap.triangulate_points(pycolmap.Reconstruction(str(start)), database, images, triangulated,
                                    clear_points=False, options=options)
        found = pycolmap.incremental_mapping(database, images, out, options, input_path=triangulated)
    models = mapping.plausible_models([m for m in found.values() if m.num_reg_images() > 0], "incremental")
    if not models:
        raise StageError("the incremental mapper continued from the model found none")
    return mapping.MappingOutcome(models, "incremental",
                                  (f"incremental from the model: registered images {models[0].num_reg_images()}",))
