"""Section "Photos": each photo, whether SfM registered it, and if not, the likely reason."""

from __future__ import annotations

import numpy as np
import pycolmap

from photogrammetry.io.features import FeatureFile, load_features
from photogrammetry.io.ingest import load_ingest
from photogrammetry.io.sfm import SfmResult, load_sfm
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.matches import MatchCounts, match_counts
from photogrammetry.report.page import Markup, Section, esc, jpeg_uri, not_computed, table
from photogrammetry.report.thumbs import photo
from photogrammetry.sfm.database import pairs_of

_FEW_MATCHES = 15
"""Below this many matches a pair is not counted as a link between two photos (COLMAP's default
minimum of verified inliers)."""


def _feature_counts(inputs: ReportInputs) -> dict[str, int]:
    folder = inputs.folder("features")
    if folder is None:
        return {}
    with FeatureFile(load_features(folder).path) as features:
        return {n: len(features.read(n, descriptors=False).keypoints) for n in features.names()}


def _other_models(sfm: SfmResult) -> dict[str, int]:
    """Photo name -> index of the other model (not the chosen one) that holds it."""
    found = {}
    for index, folder in enumerate(sfm.models[1:], start=1):
        if folder.is_dir():
            found.update({im.name: index for im in pycolmap.Reconstruction(str(folder)).images.values()})
    return found


def _verified(sfm: SfmResult) -> dict[str, int]:
    """Photo name -> its pairs in the sfm stage's database whose matches fit one two-view geometry (verified,
    not dropped as chance); empty without a database."""
    if not sfm.database.is_file():
        return {}
    with pycolmap.Database.open(sfm.database) as db:
        names = {int(image.image_id): image.name for image in db.read_all_images()}
    counts = dict.fromkeys(names.values(), 0)
    for id0, id1, inliers in pairs_of(sfm.database):
        if inliers > 0:
            counts[names[id0]] += 1
            counts[names[id1]] += 1
    return counts


def _reason(name: str, features: dict[str, int], links: dict[str, int], other: dict[str, int],
            verified: dict[str, int]) -> str:
    if name in other:
        return f"in a separate model ({other[name]}): no chain of matches to the chosen model"
    if name in features and features[name] < 100:
        return f"only {features[name]} features (blurred, dark or featureless photo?)"
    if name in links and links[name] == 0:
        return f"no other photo shares {_FEW_MATCHES} matches with it (little overlap, or another scene)"
    if verified.get(name) == 0:
        return ("no other photo shares a geometry with it: its matches fit no rigid scene with any other photo "
                "(little overlap, or another scene)")
    return "matched, but the mapper could not fit its pose (too few verified matches, or a bad geometry)"


def _links(found: MatchCounts | None) -> tuple[dict[str, int], dict[str, int]]:
    """Per photo: pairs with at least ``_FEW_MATCHES`` matches, and all its matches."""
    if found is None:
        return {}, {}
    counts = np.where(found.counts > 0, found.counts, 0)
    return ({n: int((counts[i] >= _FEW_MATCHES).sum()) for i, n in enumerate(found.names)},
            {n: int(counts[i].sum()) for i, n in enumerate(found.names)})


def registration_section(inputs: ReportInputs, options: ReportOptions) -> Section:
    """A table of the photos: thumbnail, features, matches, registration and reason."""
    folder = inputs.folder("ingest")
    if folder is None:
        return Section("photos", "Photos", not_computed("the photo list", inputs.why_missing("ingest")))
    ingest = load_ingest(folder)
    sfm_folder = inputs.folder("sfm")
    sfm = load_sfm(sfm_folder) if sfm_folder is not None else None
    registered = set(sfm.summary.registered) if sfm else set()
    other = _other_models(sfm) if sfm else {}
    verified = _verified(sfm) if sfm else {}
    features = _feature_counts(inputs)
    links, totals = _links(match_counts(inputs))
    rows = []
    for image in ingest.images:
        thumb = photo(ingest.image_path(image), options.thumbnail_size // 2)
        cell = Markup("-" if thumb is None else f'<img src="{jpeg_uri(thumb)}" alt="{esc(image.name)}">')
        if sfm is None:
            state, reason = Markup('<span class="missing">not computed</span>'), ""
        elif image.name in registered:
            state, reason = Markup('<span class="ok">registered</span>'), ""
        else:
            state, reason = Markup('<span class="bad">not registered</span>'), _reason(image.name, features, links,
                                                                                       other, verified)
        rows.append((cell, image.name, f"{image.width} x {image.height}", features.get(image.name),
                     links.get(image.name), totals.get(image.name), state, reason))
    summary = f"<p>{len(ingest.images)} photos"
    if sfm is not None:
        summary += f", {len(registered)} registered ({esc(sfm.summary.mapper)} mapper: " \
                   f"{esc('; '.join(sfm.summary.attempts))})"
    summary += ".</p>"
    skipped = ""
    if ingest.report.skipped:
        skipped = "<h3>Files left out by ingest</h3>" + table(("file", "reason"), [(s.file, s.reason)
                                                                                  for s in ingest.report.skipped])
    header = ("", "photo", "size", "features", f"photos with >= {_FEW_MATCHES} matches", "matches", "SfM", "reason")
    return Section("photos", "Photos", summary + table(header, rows, numeric=(3, 4, 5)) + skipped)
