"""Real photos through a long lens: the Middlebury temple's centre half scaled back to 640 x 480 (a lens twice as
long, about 3,050 px: issue 24's narrow-field object set), stripped of nothing (the set has no EXIF). Slow, and
skipped where ``../shared/data`` is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

import photogrammetry
from photogrammetry.evaluation import load_ground_truth
from photogrammetry.evaluation.pose_metrics import estimated_poses, evaluate_poses
from photogrammetry.io.sfm import load_sfm

TEMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "middlebury_templeSparseRing"


@pytest.mark.slow
def test_the_temple_through_a_lens_twice_as_long_registers_with_its_focal_length(tmp_path):
    if not (TEMPLE / "images").is_dir():
        pytest.skip("../shared/data/middlebury_templeSparseRing is absent")
    import cv2

    from benchmarks.focal_photos import zoom_image

    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted((TEMPLE / "images").glob("*.png")):
        cv2.imwrite(str(photos / path.name), zoom_image(cv2.imread(str(path)), 2.0))
    result = photogrammetry.run(photos, tmp_path / "ws", preset="fast", until="sfm", progress=False)
    sfm = load_sfm(result.folder("sfm"))
    gt = load_ground_truth(TEMPLE / "gt" / "templeSR_par.txt")
    truth = 2.0 * sum((v.camera.K[0, 0] + v.camera.K[1, 1]) / 2 for v in gt.views.values()) / len(gt.views)
    camera = sfm.summary.cameras[0]
    assert len(sfm.summary.registered) == 16 and sfm.summary.unregistered == ()
    assert camera.focal_px == pytest.approx(truth, rel=0.02)  # about 3,046 px
    metrics = evaluate_poses(estimated_poses(sfm.model), gt)
    assert metrics.auc[5.0] > 0.85  # 0.938 measured (main, distortion refined: 0.895)
    assert not sfm.summary.distortion_refined  # a field this narrow holds it (sfm.narrow_field)
