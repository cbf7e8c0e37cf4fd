"""File lists with sizes and checksums, their verification, and ``fsync`` of files and folders.

A *file list* maps each file below a folder (path relative to it, ``/``-separated) to its size
and BLAKE2b-128 checksum, computed in one streamed pass. Artifact manifests and per-item
records store one, so that a truncated, altered or deleted file is found before it is used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

CHECKSUM = "blake2b"
"""Name of the checksum stored beside each size (BLAKE2b with a 16-byte digest)."""
_CHUNK = 1 << 20


def file_checksum(path: Path) -> str:
    """BLAKE2b-128 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """``{"size": bytes, "blake2b": hex}`` of one file."""
    return {"size": path.stat().st_size, CHECKSUM: file_checksum(path)}


def list_files(folder: Path, *, exclude: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The file list of everything below ``folder`` except the relative paths in ``exclude``."""
    skip = set(exclude)
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and rel not in skip:
            files[rel] = file_entry(path)
    return files


def human_size(size: float) -> str:
    """``1234567`` -> ``1.2 MB``; sizes under 10 kB in bytes, so that small differences show."""
    if size < 10_000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
    return f"{size:.1f} GB"


def check_files(folder: Path, files: Mapping[str, Mapping[str, Any]], *, checksums: bool,
                label: str = "") -> list[str]:
    """What is wrong with the files of ``folder`` against the file list ``files``; ``[]`` if nothing.

    Sizes are always compared; checksums only with ``checksums``. Each problem names the file as
    ``label + relative path``: ``depth/<key>/view_005.npy: 3.1 MB expected, 0.9 MB found``.
    """
    problems = []
    for rel, entry in files.items():
        path = folder / rel
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"{label}{rel}: missing")
            continue
        if size != entry.get("size"):
            problems.append(f"{label}{rel}: {human_size(entry.get('size', 0))} expected, {human_size(size)} found")
        elif checksums and file_checksum(path) != entry.get(CHECKSUM):
            problems.append(f"{label}{rel}: checksum differs (same size, altered content)")
    return problems


def fsync_dir(folder: Path) -> None:
    """``fsync`` a folder, so that the names created or renamed in it survive a power cut.

    File systems that cannot sync a folder (``EINVAL``; some network and FUSE ones) are skipped.
    """
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@functools.cache
def _libc_syncfs():
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name, use_errno=True) if name else None
    return getattr(libc, "syncfs", None)


def sync_files(folder: Path, files: Iterable[str]) -> None:
    """Make the files below ``folder`` (relative paths) durable.

    On Linux, one ``syncfs`` of the folder's file system (measured: 1.7 s for 1,000 new files of
    200 kB where an ``fsync`` per file took 8 s); elsewhere, or when it fails, an ``fsync`` per file.
    """
    syncfs = _libc_syncfs()
    if syncfs is not None:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for rel in files:
        with open(folder / rel, "rb") as f:
            os.fsync(f.fileno())


def fsync_tree(folder: Path) -> None:
    """``fsync`` every sub-folder of ``folder``, deepest first, then ``folder`` itself."""
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        fsync_dir(sub)
    fsync_dir(folder)
