"""Fixtures of the export tests: a small textured mesh whose texture is known."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.io.mesh import TexturedMeshData


@pytest.fixture(scope="session")
def quad() -> TexturedMeshData:
    """Two triangles over the unit square in z = 0, UVs = (x, y), a texture with four coloured quadrants.

    Quadrants of the texture (row 0 at the top, so v = 1 at the top): top-left red, top-right
    green, bottom-left blue, bottom-right white.
    """
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:32, :32], texture[:32, 32:] = (255, 0, 0), (0, 255, 0)
    texture[32:, :32], texture[32:, 32:] = (0, 0, 255), (255, 255, 255)
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float64)
    return TexturedMeshData(vertices=vertices, faces=np.array([[0, 1, 2], [0, 2, 3]]), uv=vertices[:, :2],
                            texture=texture, normals=np.tile([0.0, 0.0, 1.0], (4, 1)))
