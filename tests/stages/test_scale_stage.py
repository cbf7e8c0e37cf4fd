"""The scale stage on the turntable sample scene's ground-truth model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.engine.stage import StageContext
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.sfm import SfmResult, SfmSummary
from photogrammetry.scale.markers import TargetSpec
from photogrammetry.stages import scale as scale_stage

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "turntable"
RADIUS_MM = 650.0 * np.cos(np.radians(20.0))


@pytest.fixture(scope="module")
def sfm(tmp_path_factory: pytest.TempPathFactory) -> SfmResult:
    """The ground-truth model times 4, as an sfm artifact."""
    import pycolmap

    root = tmp_path_factory.mktemp("sfm")
    model = pycolmap.Reconstruction(SCENE / "gt" / "sparse")
    model.transform(pycolmap.Sim3d(4.0, pycolmap.Rotation3d(), np.zeros(3)))
    (root / "model").mkdir()
    model.write_binary(str(root / "model"))
    names = tuple(sorted(im.name for im in model.images.values()))
    summary = SfmSummary(mapper="incremental", attempts=(), models=(), registered=names, unregistered=(),
                         verified_pairs=0, principal_point_refined=False)
    return SfmResult(root=root, summary=summary)


class _Record:
    """The two fields of an ingest record the scale stage reads."""

    def __init__(self, name: str) -> None:
        self.name, self.file = name, f"images/{name}"


def _run(config: scale_stage.ScaleConfig, sfm: SfmResult, out: Path):
    ingest = IngestResult(root=SCENE, images=tuple(_Record(n) for n in sfm.summary.registered), cameras=(),
                          report=None)
    ctx = StageContext(name="scale", out=out, photos=SCENE / "images", workers=1, progress=False)
    counts = scale_stage.run(config, ctx, ingest=ingest, sfm=sfm)
    return counts, scale_stage.STAGE.load(out)


def test_radius_gives_a_metric_model(sfm: SfmResult, tmp_path: Path) -> None:
    import pycolmap

    counts, result = _run(scale_stage.ScaleConfig(method="radius", radius_mm=RADIUS_MM), sfm, tmp_path / "out")
    assert result.units == "metres" and result.info.scale == pytest.approx(0.25, rel=1e-3)
    assert counts["units"] == "metres" and 0 <= counts["uncertainty_percent"] < 0.1  # exact circle
    scaled = pycolmap.Reconstruction(result.model)
    gt = pycolmap.Reconstruction(SCENE / "gt" / "sparse")
    a, b = (next(iter(m.images.values())).projection_center() for m in (scaled, gt))
    assert np.allclose(a, b, atol=1e-4)


def test_none_copies_the_model_in_sfm_units(sfm: SfmResult, tmp_path: Path) -> None:
    counts, result = _run(scale_stage.ScaleConfig(), sfm, tmp_path / "out")
    assert result.units == "sfm" and result.info.scale == 1.0 and result.info.relative_uncertainty is None
    assert (result.model / "images.bin").is_file() and counts["uncertainty_percent"] == -1


def test_failures_and_settings(sfm: SfmResult, tmp_path: Path) -> None:
    with pytest.raises(StageError, match="no aruco target"):
        _run(scale_stage.ScaleConfig(method="marker", marker=TargetSpec(marker_mm=40.0)), sfm, tmp_path / "out")
    with pytest.raises(ConfigError, match="needs scale.radius_mm"):
        scale_stage.ScaleConfig(method="radius")
    with pytest.raises(ConfigError, match="needs scale.marker.square_mm"):
        scale_stage.ScaleConfig(method="marker", marker=TargetSpec(kind="charuco", marker_mm=20.0))
