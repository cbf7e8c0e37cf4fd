"""The options of the depth maps' filter (:mod:`photogrammetry.mvs.filtering`): the consistency checks, the soft
agreement score, the texture rules, the implied depths (:mod:`photogrammetry.mvs.implied`) and the growth through
the raw map (:mod:`photogrammetry.mvs.growth`), each declared once here."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class FilterOptions:
    """What makes a depth trustworthy."""

    min_consistent_views: int = 2
    """Source views that must agree with a pixel's depth."""
    max_reprojection_px: float = 1.0
    """Largest forward-backward reprojection error of an agreeing source, in pixels."""
    max_relative_depth: float = 0.01
    """Largest relative depth difference of an agreeing source."""
    min_confidence: float = 0.3
    """Pixels below this confidence are dropped before the consistency check (a real office walk, 20
    frames: kept depths within 2 % of the sensor, per-view scale divided out, 0.60 -> 0.62 with ncc,
    0.56 -> 0.57 with lite)."""
    confident_views: int = 1
    """Source views that must agree with a pixel whose confidence exceeds ``high_confidence``
    (never more than ``min_consistent_views``: a larger value acts as it)."""
    high_confidence: float = 0.7
    """Confidence above which ``confident_views`` agreeing sources are enough (1: never). Same walk:
    sensor pixels given a depth within 5 % 0.084 -> 0.131 (ncc), 0.074 -> 0.087 (lite); on the orbit
    render, lower values let ncc keep wrong depths (F-score at 1 % 0.959, 0.954 at 0.7, 0.946 at 0.6)."""
    disparity_px: float = 1.0
    """A source also agrees when its depth differs by more than ``max_relative_depth`` but moves the point by
    less than this many pixels in that source (a short baseline measures depth coarsely: the tolerance
    follows it); 0: ``max_relative_depth`` alone. With ``loose_views`` 3 (first in the ``default`` preset,
    now everywhere): office frames 8-19 / 20-31 / 40-51 (true cameras, ``lite-ncc``, the same raw maps),
    sensor pixels given a depth within 5 % 0.173 / 0.316 / 0.422 -> 0.177 / 0.328 / 0.432, kept depths
    within 5 % 0.889 / 0.932 / 0.934 -> 0.895 / 0.930 / 0.933 (docs/benchmarks.md, Depth maps that cover the room)."""
    max_loose_depth: float = 0.03
    """The largest relative depth difference that ``disparity_px`` allows."""
    loose_views: int = 3
    """Sources that must agree, within the tolerance of ``disparity_px``, with a pixel that fewer sources
    confirm within ``max_relative_depth`` (never fewer than those; 0: as many)."""
    num_sources: int = 0
    """Views each depth is checked against: the best this many by the source selection's score
    (:func:`~photogrammetry.mvs.selection.select_sources`: along a video, also frames farther away than
    the sweep's sources); 0: the sweep's sources (``selection.num_sources``). A check costs far less than
    sweeping a source."""
    min_score: float = 0.9
    """Also keep a pixel (confidence at least ``min_confidence``) that the counts drop where its agreement
    score (:func:`agreement_score`: confirming sources times the confidence) reaches this: two sources
    that confirm it within a pixel from confidence 0.45, one from 0.9; 0: the counts alone. 0.9 chosen
    on office frames 0-7 (true cameras, each view's own scale): kept 0.132 -> 0.152 at within 2 % / 5 %
    0.509 -> 0.506 / 0.852 -> 0.856 (``lite-ncc``), 0.144 -> 0.162 at 0.495 -> 0.496 / 0.865 -> 0.866
    (``ncc``). Held-out frames, renders and other sets in docs/benchmarks.md (A depth filter that ranks)."""
    speckle_area: float = 0.001
    """Kept depths in a connected segment (4-neighbours within ``speckle_step`` of relative depth) that
    covers at most this share of the map are dropped, before and after ``implied_reach`` fills
    (:func:`~photogrammetry.mvs.implied.speckles`; 0.001: 194 pixels of a 540x360 map): wrong depths that
    the sources happen to confirm come alone or in small patches, right ones in surfaces; 0: off. Office
    frames 8-19 / 20-31 / 40-51 (true cameras, ``lite-ncc``, the same raw maps, 100 pixels, alone): kept
    depths within 5 % 0.895 / 0.930 / 0.933 -> 0.904 / 0.943 / 0.939 for sensor pixels given a depth within
    5 % 0.177 / 0.328 / 0.432 -> 0.167 / 0.319 / 0.422 (docs/benchmarks.md, Depth maps that cover the room)."""
    speckle_step: float = 0.02
    """Relative depth difference within which neighbouring kept depths belong to one segment."""
    implied_reach: int = 16
    """A pixel the checks drop keeps its depth (averaged with its agreeing sources', as a kept one's; the raw
    depth's where ``average_depths`` is off) where kept depths lie on both sides of it along its row
    or its column, each within this many pixels, and the inverse depth interpolated between the nearest two
    matches its own within ``implied_tolerance`` (:func:`~photogrammetry.mvs.implied.implied`), with at
    least ``implied_views`` sources agreeing (within the tolerance of ``disparity_px``), whatever its
    confidence, and (given the photo and no mask) the pixel textured (``min_contrast``): a surface closes
    over what the checks dropped; 0: off. With the speckles dropped before and after and ``disparity_px``,
    office frames 8-19 / 20-31 / 40-51 (true cameras, ``lite-ncc``): sensor pixels given a depth within 5 %
    0.173 / 0.316 / 0.422 -> 0.194 / 0.365 / 0.472, kept depths within 5 % 0.889 / 0.932 / 0.934 -> 0.899 /
    0.939 / 0.937; landmark: kept depths +7.9 %, in the sky 1,590 -> 1,412 (on flat pixels too, raw depths:
    0.203 / 0.371 / 0.482 at 0.895 / 0.936 / 0.933, sky 2,881; without the speckles 20-31 0.412 at 0.899;
    docs/benchmarks.md, Depth maps that cover the room)."""
    implied_tolerance: float = 0.02
    """Relative difference allowed between a raw inverse depth and the one its kept neighbours imply."""
    implied_views: int = 1
    """Sources that must agree (within the tolerance of ``disparity_px``) with a raw depth that
    ``implied_reach`` keeps."""
    grow_reach: int = 16
    """Last, kept depths seed a growth (hysteresis, :mod:`~photogrammetry.mvs.growth`): a dropped pixel that
    ``grow_views`` sources confirm, textured in its 3x3 and ``texture_radius`` windows, keeps its depth (as
    ``implied_reach``'s) where it joins a seed within this many 4-neighbour steps of at most ``grow_step`` of
    relative depth through such pixels, and passes the texture rules; 0: off. Office frames 20-31 (true
    cameras, same raw maps): sensor pixels given a depth within 5 % 0.365 -> 0.369 (``lite-ncc``), 0.336 ->
    0.340 (``ncc``), kept within 5 % 0.939 -> 0.943, 0.941 -> 0.943; landmark's sky 1,412 -> 1,476 depths
    (docs/benchmarks.md, Depth maps grown through the raw map). Without ``grow_margin``: 0.371 / 0.341; 8 steps 0.368 /
    0.340; the 5x5 window alone 0.374 / 0.345 (sky 1,719)."""
    grow_views: int = 1
    """Sources that must agree within ``max_relative_depth`` with a pixel that ``grow_reach`` keeps (2, no
    ``grow_margin``: 20-31 0.362 / 0.334 at 0.946 / 0.946)."""
    grow_step: float = 0.003
    """Largest relative depth difference of one step of ``grow_reach`` (0.005, no ``grow_margin``: 20-31 0.376
    / 0.346 at 0.940 / 0.941: wrong depths drift smoothly too)."""
    grow_margin: int = 8
    """Nothing grows within this many pixels of a jump (5 %) of the raw map, where the sweep carries the
    foreground's depth onto the background (orbit render: kept depths more than 1 % off 46,272 -> 53,646
    with 0, 47,330 with 8). Views with an object mask grow nothing (turntable: F@1 % 0.980 -> 0.979)."""
    grow_area: float = 0.005
    """Kept depths on textured pixels in segments (as ``speckle_area``'s) of at most this share of the map
    are dropped instead of seeding ``grow_reach``: a grown depth is as right as its seed, and wrong kept
    depths come in small segments (0, no ``grow_margin``: 20-31 0.376 / 0.346 at 0.935 / 0.938)."""
    average_depths: bool = True
    """Replace each kept depth by the mean of its own and its agreeing sources' depths."""
    min_contrast: float = 0.01
    """A kept depth where the reference photo is flat (local contrast: grey standard deviation in the
    ``texture_radius`` window over its mean grey, below this) stays only between textured kept depths
    that imply it (:mod:`~photogrammetry.mvs.texture`): a flat sky is not given the depth of the
    building next to it. Views with an object mask are not checked (the mask bounds their depths);
    0: off. Landmark set (10 photos, ``cpu``): fused points in the sky 14.5 % -> 1.3 %; office frames
    8-19 (``lite``, true cameras): sensor pixels given a depth within 5 % 0.0914 -> 0.0902, kept depths
    within 5 % 0.849 -> 0.852; orbit and facade renders unchanged (docs/benchmarks.md)."""
    texture_radius: int = 2
    """Radius of the window of ``min_contrast``, in pixels of the depth map."""
    enclosed_tolerance: float = 0.1
    """How far (relative) a flat pixel's inverse depth may lie from the one interpolated between the
    textured kept depths on each side of it."""
    dark_grey: float = 0.08
    """With ``min_contrast``: a kept depth whose 3x3 neighbourhood has a mean grey (of the full range)
    below this and a standard deviation below ``dark_std`` is dropped, enclosed or not
    (:func:`~photogrammetry.mvs.texture.dark_and_flat`): a black background or a gap seen between
    columns shows nothing to match, and the window carried the foreground's depth onto it; 0: off.
    Temple (16 photos, black background, ``cpu``): kept depths on the black background within 12 px of
    the temple 10.8 % -> 2.4 %, farther 6.3 % -> 0.3 %, on the temple the same; office frames 8-19
    (true cameras): sensor pixels given a depth within 5 % 0.0902 -> 0.0901 (``lite``), 0.1477 ->
    0.1476 (``ncc``), kept depths within 5 % 0.852 -> 0.853, 0.907 -> 0.909 (docs/benchmarks.md)."""
    dark_std: float = 0.005
    """Grey standard deviation (of the full range: 1.3 levels of 255) of a 3x3 neighbourhood below which
    ``dark_grey`` finds it flat: the temple's black background has a median of 0.003 (noise)."""
    dark_reach: int = 2
    """With ``dark_grey``: a kept depth on a dark pixel (grey below ``dark_grey``) within this many pixels
    of a dark flat neighbourhood is dropped too (the outline of a bright object on black, where the 3x3
    neighbourhood reaches the object); 0: off. Temple (16 photos): kept depths on black pixels within
    2 px of the temple 11,993 -> 3,630, on the temple the same; office frames 8-19 (true cameras):
    sensor pixels given a depth within 5 % 0.0901 -> 0.0899 (``lite``), 0.1476 -> 0.1475 (``ncc``),
    kept depths within 5 % 0.853 -> 0.854, 0.909 -> 0.910 (docs/benchmarks.md)."""
    min_grey_std: float = 0.0
    """With ``min_contrast``: a pixel is also flat where the grey standard deviation of its window is
    below this (of the full range), whatever its mean: the JPEG noise of a deep blue sky is 1 % of its
    grey; 0: the contrast alone. 0.005 (opt-in): kept depths in the landmark's sky 4,199 -> 3,068 (its
    deep blue photo 1,378 -> 262), but sensor pixels given a depth within 5 % on the office 0.0902 ->
    0.0898 (``lite``), 0.1477 -> 0.1469 (``ncc``) (docs/benchmarks.md)."""
    fringe_reach: int = 8
    """With ``min_contrast``: a kept depth whose own 3x3 contrast is below ``min_contrast`` and that joins,
    through such kept pixels and within this many pixels, a flat region without depth that touches the
    photo's border and covers ``fringe_area`` of it is dropped (:func:`~photogrammetry.mvs.texture.fringe`):
    the object's depth that the sweep carried onto the sky beside it (foreground fattening); 0: off.
    Landmark (10 photos, ``cpu``, the same raw maps): kept depths in the sky 10,771 -> 1,590, elsewhere
    1,267,961 -> 1,260,850 (17 % of those within 6 px of the measured sky, the fringe its measure leaves
    out; farther the same), fused points in the sky 1.59 % -> 0.26 %; temple, orbit, facade, turntable: the same maps;
    office held-out frames 8-19, 20-31, 40-51 (true cameras, ``lite-ncc``): sensor pixels given a depth
    within 5 % 0.1735 -> 0.1730, 0.3163 -> 0.3163, 0.4263 -> 0.4215, kept depths within 5 % 0.888 -> 0.889,
    0.929 -> 0.932, 0.928 -> 0.934 (docs/benchmarks.md)."""
    fringe_area: float = 0.1
    """Smallest share of the map that a flat region without depth must cover for ``fringe_reach`` to walk
    from it (the sky covered 18-58 % of each landmark photo): smaller flat patches without depth, a stretch of
    carpet or a cabinet door between kept depths, are no background (office frames 8-19 with none: sensor
    pixels within 5 % 0.1735 -> 0.1609)."""

    def __post_init__(self) -> None:
        if self.min_consistent_views < 0:
            raise ConfigError(f"min_consistent_views must be >= 0, got {self.min_consistent_views}")
        if self.disparity_px < 0 or self.max_loose_depth < 0 or self.loose_views < 0:
            raise ConfigError("disparity_px, max_loose_depth and loose_views must be >= 0, got "
                              f"{self.disparity_px}, {self.max_loose_depth}, {self.loose_views}")
        if self.num_sources < 0:
            raise ConfigError(f"filtering.num_sources must be >= 0, got {self.num_sources}")
        if self.confident_views < 0:
            raise ConfigError(f"confident_views must be >= 0, got {self.confident_views}")
        if not 0 <= self.speckle_area < 1 or self.speckle_step <= 0:
            raise ConfigError("filtering.speckle_area must be within [0, 1) and speckle_step > 0, got "
                              f"{self.speckle_area}, {self.speckle_step}")
        if self.implied_reach < 0 or self.implied_tolerance < 0 or self.implied_views < 0:
            raise ConfigError("filtering.implied_reach, implied_tolerance and implied_views must be >= 0, got "
                              f"{self.implied_reach}, {self.implied_tolerance}, {self.implied_views}")
        if min(self.grow_reach, self.grow_views, self.grow_step, self.grow_margin) < 0 or not 0 <= self.grow_area < 1:
            raise ConfigError("filtering.grow_reach, grow_views and grow_step must be >= 0 and grow_area within "
                              f"[0, 1), got {self.grow_reach}, {self.grow_views}, {self.grow_step}, {self.grow_area}")
        if self.min_score < 0:
            raise ConfigError(f"filtering.min_score must be >= 0, got {self.min_score}")
        if self.fringe_reach < 0 or not 0 <= self.fringe_area <= 1:
            raise ConfigError("filtering.fringe_reach must be >= 0 and fringe_area within [0, 1], "
                              f"got {self.fringe_reach}, {self.fringe_area}")
        if min(self.dark_grey, self.dark_std, self.min_grey_std, self.dark_reach) < 0:
            raise ConfigError("filtering.dark_grey, dark_std, dark_reach and min_grey_std must be >= 0, got "
                              f"{self.dark_grey}, {self.dark_std}, {self.dark_reach}, {self.min_grey_std}")
        if self.min_contrast < 0 or self.texture_radius < 1 or self.enclosed_tolerance < 0:
            raise ConfigError("filtering.min_contrast and enclosed_tolerance must be >= 0 and texture_radius >= 1, "
                              f"got {self.min_contrast}, {self.enclosed_tolerance}, {self.texture_radius}")
