"""Atomic JSON files and dataclass round trips (no pickle anywhere)."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import socket
from pathlib import Path
from typing import Any

from photogrammetry.io.integrity import fsync_dir


def temporary_path(path: Path) -> Path:
    """A hidden name next to ``path`` for writing it before the rename, unique to this host and
    process (workers of several machines may write into one shared workspace)."""
    return path.with_name(f".{path.name}.tmp-{socket.gethostname()}-{os.getpid()}")


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    With ``durable``, the data is also ``fsync``-ed before the rename and the folder after it, so
    that the new file survives a power cut (not only a crash).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, an interruption: leave no temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def to_jsonable(obj: Any) -> Any:
    """Turn dataclasses, paths, tuples and enums into plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


def dumps(obj: Any) -> str:
    """Canonical JSON text: sorted keys, UTF-8 kept, stable across runs."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, obj: Any, *, durable: bool = False) -> None:
    """Write ``obj`` as canonical JSON, atomically (see :func:`write_bytes_atomic` for ``durable``)."""
    write_bytes_atomic(path, dumps(obj).encode("utf-8"), durable=durable)


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
