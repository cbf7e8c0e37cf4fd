"""Short test videos: frames from our renderer (an orbit around a vase) or made by hand, written with OpenCV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.synthetic.render import Renderer
from photogrammetry.synthetic.rigs import OrbitRig
from photogrammetry.synthetic.scenes import CameraSpec, Scene, SceneSpec, build_scene
from photogrammetry.synthetic.shapes import ShapeKind, ShapeSpec


def orbit_scene(count: int, size: tuple[int, int] = (160, 120), seed: int = 12) -> Scene:
    """A camera orbiting a vase in a room in ``count`` steps (``scene.views`` are the true poses)."""
    rig = OrbitRig(num_views=count, radius=0.8, height=0.45, look_jitter_deg=0.5)
    return build_scene(SceneSpec(seed=seed, rig=rig, shape=ShapeSpec(kind=ShapeKind.VASE, seed=5, height=0.3, detail=4),
                                 camera=CameraSpec(width=size[0], height=size[1])))


def orbit_frames(count: int, size: tuple[int, int] = (160, 120), seed: int = 12) -> list[np.ndarray]:
    """The rendered views of :func:`orbit_scene`, as ``(H, W, 3)`` uint8 BGR."""
    renderer = Renderer(orbit_scene(count, size, seed))
    return [np.ascontiguousarray(renderer.render(i).image[:, :, ::-1]) for i in range(count)]


def write_video(path: Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write BGR frames as an MPEG-4 Part 2 (``mp4v``) video, a codec every opencv-python wheel writes."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def blurred(frame: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """The frame with a Gaussian blur (a shaken or defocused frame)."""
    return cv2.GaussianBlur(frame, (0, 0), sigma)
