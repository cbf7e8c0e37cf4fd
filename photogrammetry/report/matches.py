"""Section "Pairs and matches": the match count of every pair as a matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photogrammetry.io.features import MatchFile, load_matches, load_pairs
from photogrammetry.report import svg
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.page import Section, esc, not_computed, table


@dataclass(frozen=True)
class MatchCounts:
    """Match counts between every two photos."""

    names: tuple[str, ...]
    """Photo names, sorted."""
    counts: np.ndarray
    """(N, N) int64 matches of each pair (symmetric); -1 where the pair was not matched."""


def match_counts(inputs: ReportInputs) -> MatchCounts | None:
    """The matches artifact's counts, or ``None`` when the matches stage has not finished."""
    folder = inputs.folder("matches")
    if folder is None:
        return None
    match_set = load_matches(folder)
    pairs = match_set.pairs
    if (pairs_folder := inputs.folder("pairs")) is not None:
        pairs = tuple(sorted(set(pairs) | set(load_pairs(pairs_folder).pairs)))
    names = tuple(sorted({n for pair in pairs for n in pair}))
    index = {n: i for i, n in enumerate(names)}
    counts = np.full((len(names), len(names)), -1, dtype=np.int64)
    with MatchFile(match_set.path) as matches:
        for a, b in pairs:
            found = matches.read(a, b)
            counts[index[a], index[b]] = counts[index[b], index[a]] = 0 if found is None else len(found.indices)
    return MatchCounts(names, counts)


def matches_section(inputs: ReportInputs, options: ReportOptions) -> Section:
    """The pair matrix (log colour scale; hover a cell for its pair and count) and the best pairs."""
    found = match_counts(inputs)
    if found is None:
        return Section("matches", "Pairs and matches",
                       not_computed("the matches", inputs.why_missing("matches")))
    shown = options.max_matrix_images
    names, counts = found.names[:shown], found.counts[:shown, :shown]
    tried = int((found.counts >= 0).sum() // 2)
    matched = int((found.counts > 0).sum() // 2)
    note = (f"<p>{len(found.names)} photos, {tried} pairs matched, {matched} with matches"
            + (f"; the first {len(names)} photos shown" if len(names) < len(found.names) else "")
            + ". Rows and columns are the photos in the order of the table below; grey: pair not tried.</p>")
    upper = np.triu(np.where(found.counts > 0, found.counts, 0), 1)
    order = np.argsort(upper, axis=None)[::-1][:10]
    best = [(found.names[i], found.names[j], int(upper[i, j])) for i, j in zip(*np.unravel_index(order, upper.shape))
            if upper[i, j] > 0]
    legend = table(("#", "photo"), [(i, n) for i, n in enumerate(names)], numeric=(0,))
    chart = svg.matrix(names, counts, title="Matches per pair")
    return Section("matches", "Pairs and matches", note + chart + "<h3>Pairs with the most matches</h3>"
                   + table(("photo", "photo", "matches"), best, numeric=(2,))
                   + f"<details><summary>Photo numbers ({len(names)})</summary>{legend}</details>"
                   + ("" if best else f"<p class=\"bad\">{esc('No pair has any match.')}</p>"))
