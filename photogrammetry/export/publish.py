"""The output folder: an export artifact's files under stable names, outside the cache.

Publishing mirrors the export artifact (``model.glb``, ``model.obj`` + ``.mtl`` + texture,
``model.ply``, ``voxels.ply``, ``cameras/``, ``export.json``; see :mod:`photogrammetry.io.export`) into
the output folder as hard links where the file system allows (no copy of the bytes; the cache may
be cleaned afterwards without touching them), else as copies. ``cameras/transforms.json`` names
photos, masks and depth maps inside ``cameras/``, so the published folder can be moved; paths
outside the artifact (exports of older versions) are rewritten to stay right from the new place.
The new folder is assembled beside the old one and swapped in by renames, so a reader sees the old set or the new one;
``published.json`` names the source and marks the folder as one that publishing may replace.
A folder holding anything else is never replaced.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from photogrammetry.errors import ConfigError
from photogrammetry.io.export import EXPORT_FILE, load_export_result
from photogrammetry.io.jsonio import read_json, write_json

PUBLISHED_FILE = "published.json"
"""The marker and record of a published output folder."""
_SKIPPED = {"manifest.json"}


@dataclass(frozen=True, kw_only=True)
class Published:
    """What :func:`publish` wrote."""

    folder: Path
    """The output folder."""
    files: dict[str, Path]
    """Format (``glb``, ``obj``, ``ply``, ``cameras``) -> its path in the output folder."""
    linked: bool
    """Whether every file is a hard link to the cache (else some are copies)."""

    @property
    def model(self) -> Path | None:
        """The GLB, else the first model file published, else ``None``."""
        return next((self.files[f] for f in ("glb", "obj", "ply") if f in self.files), None)


def check_output(output: Path, photos: Path, workspace: Path) -> None:
    """Refuse, before a run starts, an output folder that publishing would refuse, or one among the
    photos (outside the workspace and hidden folders), whose model and texture the next run would
    read as photos.

    Args:
        output: The output folder (``-o``).
        photos: The photo folder, or a video file.
        workspace: The workspace folder.
    """
    _check_replaceable(output)
    out, root = output.resolve(), photos.resolve()
    if not root.is_dir() or not out.is_relative_to(root) or out.is_relative_to(workspace.resolve()):
        return
    if not any(part.startswith(".") for part in out.relative_to(root).parts):
        raise ConfigError(f"output folder {output} (-o) lies in the photo folder {photos}: the next run would read "
                          "the published model and texture as photos; choose a folder outside it (nothing was "
                          "written)")


def _check_output(output: Path, source: Path) -> None:
    """Refuse an output folder that is not ours to replace, or that lies in the source."""
    if output.resolve() == source.resolve() or output.resolve().is_relative_to(source.resolve()):
        raise ConfigError(f"output folder {output} lies inside the cached export {source}; choose another (-o)")
    _check_replaceable(output)


def _check_replaceable(output: Path) -> None:
    """Refuse an output that is a file, or a folder holding files that publishing did not put there."""
    if output.exists() and not output.is_dir():
        raise ConfigError(f"output {output} exists and is not a folder; choose another output folder (-o)")
    if output.is_dir() and any(output.iterdir()) and not (output / PUBLISHED_FILE).is_file():
        raise ConfigError(f"output folder {output} holds files that photogrammetry did not publish and would be "
                          "replaced as a whole; choose a new or empty folder (-o)")


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard-link ``source`` at ``target``, or copy it where links are not possible; True when linked."""
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copy2(source, target)
        return False


def _transforms(source: Path, target: Path, final: Path, artifact: Path) -> None:
    """``transforms.json`` with the paths it names outside ``artifact`` (older exports named the
    ingest artifact's photos) made relative to ``final`` (where ``target`` will end up); the paths
    inside it are published alongside and stay as they are."""
    content = read_json(source)
    for frame in content.get("frames", []):
        for key in ("file_path", "mask_path", "depth_file_path"):
            if key not in frame:
                continue
            path = os.path.normpath(os.path.join(source.parent, frame[key]))
            if Path(path).resolve().is_relative_to(artifact.resolve()):
                continue
            try:
                frame[key] = os.path.relpath(path, final.parent)
            except ValueError:  # another drive (Windows): keep it absolute
                frame[key] = path
    write_json(target, content)


def _mirror(source: Path, staging: Path, output: Path) -> bool:
    """Every file of ``source`` (not the engine's manifest nor hidden files) into ``staging``."""
    linked = True
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part.startswith(".") for part in relative.parts) or str(relative) in _SKIPPED or path.is_dir():
            continue
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name == "transforms.json":
            _transforms(path, target, output / relative, source)
        else:
            linked = _link_or_copy(path, target) and linked
    return linked


def publish(export_folder: Path, output: Path) -> Published:
    """Publish the export artifact in ``export_folder`` into ``output``, replacing what it held.

    Raises:
        ConfigError: when ``output`` holds files that were not published here, is a file, or
            lies inside the artifact.
    """
    export_folder, output = Path(export_folder), Path(output)
    result = load_export_result(export_folder)
    _check_output(output, export_folder)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(f".{output.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    linked = _mirror(export_folder, staging, output)
    files = {fmt: output / relative for fmt, relative in result.info.files.items()}
    write_json(staging / PUBLISHED_FILE, {"source": str(export_folder.resolve()), "linked": linked,
                                          "published": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                          "files": {**result.info.files, "export": EXPORT_FILE}})
    old = output.with_name(f".{output.name}.old-{os.getpid()}")
    if output.exists():
        os.replace(output, old)
    os.replace(staging, output)
    shutil.rmtree(old, ignore_errors=True)
    return Published(folder=output, files=files, linked=linked)
