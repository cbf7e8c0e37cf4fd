"""The narrow-field rule's measure: a camera's field from its focal length, with or without a prior."""

from __future__ import annotations

import pycolmap
import pytest

from photogrammetry.sfm.field import half_field, narrow_database, narrow_model


def _camera(focal: float, prior: bool) -> pycolmap.Camera:
    camera = pycolmap.Camera(model="SIMPLE_RADIAL", width=640, height=480, params=[focal, 320.0, 240.0, 0.0])
    camera.has_prior_focal_length = prior
    return camera


def test_half_field_is_the_corners_normalised_radius() -> None:
    assert half_field(640, 480, 400.0) == pytest.approx(1.0)
    assert half_field(640, 480, 3000.0) == pytest.approx(400.0 / 3000.0)


@pytest.mark.parametrize(("focal", "prior", "limit", "narrow"),
                         [(3000.0, True, 0.15, True), (1520.0, True, 0.15, False),  # the temple: 0.26
                          (3000.0, False, 0.15, False),  # no prior yet: a light pass's start decides nothing
                          (3000.0, True, 0.0, False)])  # 0: no rule
def test_a_database_is_narrow_only_where_every_camera_has_a_narrow_prior(tmp_path, focal, prior, limit,
                                                                        narrow) -> None:
    path = tmp_path / "database.db"
    with pycolmap.Database.open(path) as db:
        db.write_camera(_camera(focal, prior))
        db.write_camera(_camera(2900.0, True))
    assert narrow_database(path, limit) is narrow


def test_a_model_is_narrow_where_every_camera_is() -> None:
    model = pycolmap.Reconstruction()
    model.add_camera(_camera(3000.0, False))
    assert narrow_model(model, 0.15)
    wide = _camera(800.0, False)
    wide.camera_id = 2
    model.add_camera(wide)
    assert not narrow_model(model, 0.15)
