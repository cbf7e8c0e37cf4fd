"""Training scenes for the ``lite`` MVS networks (``scripts/train_mvs.py``): random scenes rendered to
``<seed>.npz`` files (consecutive views' images, exact depths, calibration and poses), and read back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import InputError


def render_training_set(out: Path, first_seed: int, count: int, views: int, size: tuple[int, int] = (640, 480),
                        rooms: bool = False) -> None:
    """Render ``count`` random scenes (``views`` consecutive views each, ``size`` = (width, height))
    into ``out/<seed>.npz``: object and facade scenes, or with ``rooms`` furnished rooms seen by a
    hand-held camera (:func:`photogrammetry.synthetic.random_room_scene`)."""
    from photogrammetry.synthetic.render import Renderer
    from photogrammetry.synthetic.scenes import build_scene, random_room_scene, random_scene

    draw = random_room_scene if rooms else random_scene
    out.mkdir(parents=True, exist_ok=True)
    for seed in range(first_seed, first_seed + count):
        path = out / f"{seed}.npz"
        if path.exists():
            continue
        scene = build_scene(draw(seed, width=size[0], height=size[1]))
        rng = np.random.default_rng([seed, 77])
        start = int(rng.integers(0, max(1, len(scene.views) - views)))
        renderer = Renderer(scene)
        images, depths, rotations, translations = [], [], [], []
        for index in range(start, min(start + views, len(scene.views))):
            view = renderer.render(index)
            quality = int(rng.integers(85, 96))
            ok, buf = cv2.imencode(".jpg", view.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            images.append(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
            depths.append(view.depth.astype(np.float32))
            rotations.append(scene.views[index].cam_from_world.rotation)
            translations.append(scene.views[index].cam_from_world.translation)
        cam = scene.camera
        K = np.array([[cam.focal, 0, cam.cx], [0, cam.focal, cam.cy], [0, 0, 1]])
        np.savez_compressed(path, images=np.stack(images), depths=np.stack(depths), K=K,
                            R=np.stack(rotations), t=np.stack(translations))
        print(f"rendered {path.name}: {scene.spec.kind}, {len(images)} views", flush=True)


def load_training_set(folders: list[Path]) -> list[dict]:
    """Every rendered scene (``.npz``) in ``folders``, folder by folder, by name.

    Raises:
        InputError: When a folder holds none (render it first).
    """
    scenes = []
    for folder in folders:
        files = sorted(folder.glob("*.npz"))
        if not files:
            raise InputError(f"no rendered scenes (.npz) in {folder}: run `train_mvs.py render --data {folder}` first")
        scenes += [dict(np.load(f)) for f in files]
    return scenes
