"""Checks made before a run writes anything: where the workspace is, whether it is writable, and
every option that names a file or folder.

A run refused here leaves no trace: no workspace folder, marker, lock or log.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from photogrammetry.engine.options import leaves
from photogrammetry.engine.stage import StageSpec
from photogrammetry.engine.workspace import WORKSPACE_MARKER
from photogrammetry.errors import ConfigError, InputError, ResourceError, resource_error

RESERVED = ("logs", ".trash", ".quarantine", ".lock", "run.json", WORKSPACE_MARKER)
"""Names the engine writes at the top of a workspace, besides one folder per stage."""


def check_locations(photos: Path, workspace: Path, stage_names: Sequence[str]) -> None:
    """Refuse a workspace that is the photo folder, holds it among its own files, or would hide photos."""
    p, w = photos.resolve(), workspace.resolve()
    if p == w:
        raise InputError(f"the workspace {workspace} is the photo folder; choose another folder for -w, e.g. "
                         f"{p.parent / (p.name + '-workspace')} (nothing was written)")
    if p.is_relative_to(w):
        first = p.relative_to(w).parts[0]
        if first in stage_names or first in RESERVED:
            raise InputError(f"the photo folder {photos} is inside {first}/ of the workspace {workspace}, which the "
                             "pipeline writes and cleans; move the photos or choose another workspace (-w)")
    if w.is_relative_to(p) and w.is_dir() and not (w / WORKSPACE_MARKER).exists() and any(w.iterdir()):
        raise InputError(f"the workspace {workspace} is a folder inside the photos that already holds files, which "
                         "would then be left out of the photos; choose an empty or new folder for -w")


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(workspace: Path) -> None:
    """Fail with a clear :class:`ResourceError` when ``workspace`` (or where it would be created)
    cannot be written. Works as root too (read-only mounts are checked, not only permissions): a
    file is created in the workspace, or in its nearest existing parent, and deleted at once."""
    target = _existing_ancestor(workspace)
    if not target.is_dir():
        raise InputError(f"the workspace {workspace} cannot be created: {target} is a file, not a folder")
    try:
        read_only = bool(os.statvfs(target).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    if read_only:
        raise ResourceError(f"{target}: read-only file system; the workspace {workspace} must be writable: "
                            "choose another folder (-w) or remount it read-write")
    if not os.access(target, os.W_OK | os.X_OK):
        raise ResourceError(f"{target}: permission denied; the workspace {workspace} must be writable: "
                            "check its permissions or choose another folder (-w)")
    try:  # what access() cannot see (ACLs, immutable folders, full quota, pseudo file systems such as /proc)
        fd, probe = tempfile.mkstemp(dir=target, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise resource_error(e, where=target) or ResourceError(
            f"{target}: cannot create files there ({e.strerror}); the workspace {workspace} must be writable: "
            "choose another folder (-w)") from None


def check_file_options(stages: Sequence[StageSpec], config: Mapping[str, Any]) -> None:
    """Check every option declared with ``metadata={"path": "file" | "dir"}`` that is set.

    The file or folder must exist and be readable; an option may also declare
    ``metadata={"check": function}``, called with the path, that raises ``ValueError`` with
    the reason when the file is not what the option expects (e.g. not a weight file).
    """
    for spec in stages:
        for option in leaves(config[spec.name]):
            kind = option.field.metadata.get("path")
            if not kind or not option.value:
                continue
            name = f"{spec.name}.{option.path}"
            path = Path(str(option.value)).expanduser()
            _check_path(name, path, kind)
            check = option.field.metadata.get("check")
            if check is not None:
                try:
                    check(path)
                except ValueError as e:
                    raise ConfigError(f"{name} = {str(option.value)!r}: {e}") from None


def _check_path(name: str, path: Path, kind: str) -> None:
    noun = {"dir": "folder", "file": "file"}.get(kind, "file or folder")
    if not path.exists():
        raise ConfigError(f"{name} = {str(path)!r}: no such {noun}; give the path of an existing {noun} "
                          "(relative paths are read from the current folder)")
    if kind == "dir" and not path.is_dir():
        raise ConfigError(f"{name} = {str(path)!r} is not a folder; give the folder that holds the files")
    if kind == "file" and not path.is_file():
        raise ConfigError(f"{name} = {str(path)!r} is not a file")
    if not os.access(path, os.R_OK | (os.X_OK if kind == "dir" else 0)):
        raise ConfigError(f"{name} = {str(path)!r}: permission denied; make it readable")
