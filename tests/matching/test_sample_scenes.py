"""Accuracy on rendered sample scenes with exact ground truth (the stages, end to end).

- LightGlue on ALIKED features: at least 90 % of the matches within 2 px of the true epipolar
  lines (symmetric epipolar distance), on the ``facade`` scene.
- Retrieval (VLAD over the scene's own vocabulary, k = 10) on the 24-view ``turntable``: finds at
  least 90 % of the truly overlapping pairs, and nearly all that an oracle given the true overlaps
  could find with the same k.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import photogrammetry
from photogrammetry.io.features import FeatureFile
from photogrammetry.matching.epipolar import match_errors
from photogrammetry.matching.retrieval import retrieval_index_pairs
from tests.matching import ground_truth as gtm

LEARNED = ("features.extractor=aliked-n16", "features.max_keypoints=512", "features.resize_max=0")


def _subset(scene: Path, names: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(scene / "images" / name, folder / name)
    return folder


def test_lightglue_matches_agree_with_the_true_epipolar_geometry(tmp_path: Path, no_network: list[str]) -> None:
    scene = gtm.sample_scene("facade")
    gt = gtm.load(scene)
    photos = _subset(scene, gt.names[:6], tmp_path / "photos")
    result = photogrammetry.run(photos, tmp_path / "ws", overrides=[*LEARNED, "pairs.method=sequential",
                                "pairs.window=2", "pairs.loop_closure=none"],
                                until="matches", device="cpu", workers=2, progress=False)
    errors = match_errors(result.folder("features") / "features.h5", result.folder("matches") / "matches.h5",
                          gtm.calibrated_views(gt))
    assert len(errors) == 9
    flat = np.concatenate(list(errors.values()))
    assert len(flat) > 9 * 100
    assert (flat < 2.0).mean() >= 0.9, f"precision {(flat < 2.0).mean():.3f} over {len(flat)} matches"
    assert no_network == []


@pytest.fixture(scope="module")
def turntable_features(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    scene = gtm.sample_scene("turntable")
    result = photogrammetry.run(scene / "images", tmp_path_factory.mktemp("turntable") / "ws", overrides=LEARNED,
                                until="features", device="cpu", workers=2, progress=False)
    return result.folder("features") / "features.h5", gtm.load(scene)


def test_retrieval_finds_the_truly_overlapping_pairs(turntable_features) -> None:
    """Truly overlapping: each view sees at least 70 % of the other's rigid surface (ground-truth depth)."""
    features, gt = turntable_features
    with FeatureFile(features) as ff:
        names = ff.names()
    assert len(names) == 24
    true = gtm.overlap_matrix(gt, names)
    found = np.zeros_like(true, bool)
    for i, j in retrieval_index_pairs(features, names, k=10, vocabulary_size=64):
        found[i, j] = found[j, i] = True
    upper = np.triu_indices(len(names), 1)
    strong = true[upper] >= 0.7
    assert strong.sum() >= 24 * 3
    recall = found[upper][strong].mean()
    assert recall >= 0.9, f"recall {recall:.3f} of {strong.sum()} truly overlapping pairs"
    # with a looser overlap (50 %) there are more partners than k; compare with an oracle's k = 10
    oracle = np.zeros_like(found)
    for i in range(len(names)):
        best = np.argsort(-np.where(np.eye(len(names), dtype=bool)[i], -1, true[i]))[:10]
        oracle[i, best] = oracle[best, i] = True
    loose = true[upper] >= 0.5
    assert found[upper][loose].mean() >= 0.9 * oracle[upper][loose].mean()
