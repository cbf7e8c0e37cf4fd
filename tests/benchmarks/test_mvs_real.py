"""The real-set MVS benchmark on the office video's first 6 frames (slow; needs ../shared/data)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
OFFICE = ROOT.parent / "shared" / "data" / "deepvideomvs_hololens_office"


@pytest.mark.slow
@pytest.mark.skipif(not OFFICE.is_dir(), reason="../shared/data/deepvideomvs_hololens_office not present")
def test_office_six_frames(tmp_path: Path) -> None:
    """True cameras and ours (fast preset), ncc at 320 px: loose bounds that a broken loader, a wrong
    alignment or a lost scale would break (today: about 0.4 of the kept depths within 5 %)."""
    from benchmarks.mvs_real import run_all

    args = argparse.Namespace(real="office", frames=6, first_frame=0, cameras="true,fast", methods="ncc", scenes="",
                              masks="auto", max_image_size=320, check_gt=True, device="cpu", set=None)
    results = run_all(args, tmp_path, "cpu")
    assert results["frames"] == 6 and [r["cameras"] for r in results["rows"]] == ["true", "fast"]
    for result in results["rows"]:
        assert result["kept"] > 0.02 and result["within"]["0.05"] > 0.2, result
        assert 0.85 < result["ratio_median"] < 1.15 and result["seconds_per_view"] > 0
        assert len(result["view_ratios"]) >= 5
    ours = results["rows"][1]
    assert len(ours["centre_errors"]) >= 5 and np.median(list(ours["centre_errors"].values())) < 0.1  # metres
    near = results["checks"][0]
    assert near["pairs"] == 6 and near["within_5%"] > 0.9 and near["median_error"] < 0.01
    assert all(r["covered_5%_own"] >= r["covered_5%"] * 0.5 and r["covered_5%_own"] > 0 for r in results["rows"])
