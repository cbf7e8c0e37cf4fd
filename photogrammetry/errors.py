"""Errors a user can act on.

Every error raised for bad input, bad settings or a busy workspace derives from
:class:`PhotogrammetryError`; the CLI prints its message (never a traceback) and exits
with :attr:`PhotogrammetryError.exit_code`.
"""

from __future__ import annotations

import errno
import os
import shutil


class PhotogrammetryError(Exception):
    """Base class of the errors that carry a message meant for the user."""

    exit_code: int = 1


class InputError(PhotogrammetryError):
    """The photos or another input file cannot be used; the message names the file."""

    exit_code = 2


class ConfigError(PhotogrammetryError):
    """A preset, config file or ``--set`` override is invalid; the message lists valid keys."""

    exit_code = 2


class WorkspaceLockedError(PhotogrammetryError):
    """Another live process holds the workspace."""

    exit_code = 3


class StageError(PhotogrammetryError):
    """A stage failed for a reason it could explain (e.g. reconstruction found no model)."""

    exit_code = 4


class DamagedWorkspaceError(PhotogrammetryError):
    """``verify`` found cached results whose files differ from their manifests."""

    exit_code = 5


class ResourceError(PhotogrammetryError):
    """The system refused a file operation: read-only, no space, no permission, path too long, too many files."""

    exit_code = 2


_WHAT = {
    errno.EROFS: ("read-only file system",
                  "remount it read-write or choose a writable workspace folder (-w)"),
    errno.ENOSPC: ("no space left on the device", "free some space or choose a workspace on another disk (-w); "
                   "the same command then resumes where it stopped"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose a workspace on another disk (-w); "
                   "the same command then resumes where it stopped"),
    errno.EACCES: ("permission denied", "check the permissions of that file or folder, or choose another (-w)"),
    errno.EPERM: ("operation not permitted", "check the permissions of that file or folder, or choose another (-w)"),
    errno.ENAMETOOLONG: ("path too long", "use a shorter workspace path or shorter photo names "
                         "(a name may have at most 255 bytes, a path 4096)"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n {limit}) or lower --workers"),
    errno.ENFILE: ("too many open files on this system", "close other programs or lower --workers"),
}


def _free_mb(path: str | os.PathLike | None) -> str:
    """``12.3 MB free`` on the file system of ``path`` (or its nearest existing parent), if known."""
    if path is None:
        return ""
    folder = os.path.abspath(os.fspath(path))
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return ""
        folder = parent
    try:
        return f"{shutil.disk_usage(folder).free / 1e6:.1f} MB free"
    except OSError:
        return ""


def _open_files_limit() -> str:
    try:
        import resource

        return str(resource.getrlimit(resource.RLIMIT_NOFILE)[0] * 4)
    except (ImportError, OSError, ValueError):
        return "4096"


def resource_error(error: OSError, *, where: str | os.PathLike | None = None,
                   needed_bytes: int | None = None, context: str = "") -> ResourceError | None:
    """The :class:`ResourceError` for an ``OSError`` a user can act on, or ``None`` for other errors.

    Args:
        error: The error raised.
        where: The folder being written (the workspace) when the error names no file.
        needed_bytes: An estimate of the space the failed work needs, shown with the free space.
        context: What was being done, e.g. ``"depth stage: "``.
    """
    if error.errno not in _WHAT:
        return None
    what, todo = _WHAT[error.errno]
    path = error.filename if error.filename is not None else where
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        numbers = [f"about {needed_bytes / 1e6:.1f} MB needed"] if needed_bytes else []
        numbers += [free] if (free := _free_mb(path)) else []
        what = f"{what} ({', '.join(numbers)})" if numbers else what
    if error.errno == errno.ENAMETOOLONG and error.filename is not None:
        encoded = os.fsencode(error.filename)
        longest = max(len(part) for part in encoded.split(b"/"))
        what = f"{what} (its longest name has {longest} bytes, the whole path {len(encoded)})"
    subject = f"{path}: " if path is not None else ""
    return ResourceError(f"{context}{subject}{what}; {todo.format(limit=_open_files_limit())}")
