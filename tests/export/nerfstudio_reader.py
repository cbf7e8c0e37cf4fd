"""A reader of nerfstudio's ``transforms.json`` written from its documented layout (nerfstudio is not
installed): paths relative to the file's folder, ``mask_path`` (one channel, 0 = left out) and
``depth_file_path`` (an image whose values times the parser's ``depth_unit_scale_factor``, default
1e-3, are the depths) each on every frame or on none, intrinsics per frame or at the top level."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INTRINSICS = ("fl_x", "fl_y", "cx", "cy", "w", "h")


@dataclass(frozen=True)
class Frame:
    image: Path
    camera_to_world: np.ndarray
    width: int
    height: int
    mask: np.ndarray | None
    depth: np.ndarray | None


def read_transforms(path: Path) -> list[Frame]:
    """Every frame of ``path`` with its mask (bool) and depth (float, the transforms' units) loaded."""
    meta = json.loads(path.read_text())
    data_dir = path.parent
    scale = 1e-3  # nerfstudio's --depth-unit-scale-factor default; the file's key only records it
    if meta.get("depth_unit_scale_factor", scale) != scale:
        raise ValueError("depth_unit_scale_factor differs from nerfstudio's default 1e-3")
    for key in ("mask_path", "depth_file_path"):
        if len({key in frame for frame in meta["frames"]}) > 1:
            raise ValueError(f"{key} must be given for every frame or for none")
    frames = []
    for frame in meta["frames"]:
        params = {key: frame.get(key, meta.get(key)) for key in INTRINSICS}
        if any(value is None for value in params.values()):
            raise ValueError(f"frame {frame['file_path']} lacks intrinsics")
        image = data_dir / frame["file_path"]
        if not image.is_file():
            raise FileNotFoundError(image)
        mask = depth = None
        if "mask_path" in frame:
            raw = cv2.imread(str(data_dir / frame["mask_path"]), cv2.IMREAD_GRAYSCALE)
            if raw is None or raw.shape != (params["h"], params["w"]):
                raise ValueError(f"mask {frame['mask_path']} unreadable or not {params['w']}x{params['h']}")
            mask = raw > 0
        if "depth_file_path" in frame:
            raw = cv2.imread(str(data_dir / frame["depth_file_path"]), cv2.IMREAD_ANYDEPTH)
            if raw is None:
                raise ValueError(f"depth {frame['depth_file_path']} unreadable")
            depth = cv2.resize(raw.astype(np.float64) * scale, (params["w"], params["h"]),
                               interpolation=cv2.INTER_NEAREST)
        frames.append(Frame(image=image, camera_to_world=np.array(frame["transform_matrix"]),
                            width=int(params["w"]), height=int(params["h"]), mask=mask, depth=depth))
    return frames
