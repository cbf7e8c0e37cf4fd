"""``auto`` finds the CPU without importing torch where no GPU driver is present."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from photogrammetry import device


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    device.resolve_device.cache_clear()
    yield monkeypatch
    device.resolve_device.cache_clear()


def test_no_driver_files_means_cpu(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh.setattr(device.sys, "platform", "linux")
    fresh.setattr(device, "GPU_DEVICE_FILES", (str(tmp_path / "nvidiactl"),))
    assert device.no_gpu_driver()
    assert device.resolve_device("auto") == "cpu"
    (tmp_path / "nvidiactl").touch()
    assert not device.no_gpu_driver()
    fresh.setattr(device.sys, "platform", "win32")
    (tmp_path / "nvidiactl").unlink()
    assert not device.no_gpu_driver()  # elsewhere torch decides


@pytest.mark.skipif(not device.no_gpu_driver(), reason="a GPU driver is present")
def test_auto_does_not_import_torch_without_a_driver() -> None:
    code = ("import sys; from photogrammetry.device import resolve_device; "
            "assert resolve_device('auto') == 'cpu'; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _blas_threads() -> list[int]:
    """Threads of each BLAS loaded here (numpy's)."""
    from threadpoolctl import threadpool_info

    importlib.import_module("numpy")  # loads its BLAS

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.mark.skipif(not _blas_threads(), reason="numpy has no BLAS whose threads threadpoolctl sets")
def test_blas_threads_are_set_inside_the_block_and_restored() -> None:
    before = _blas_threads()
    with device.blas_threads(1):
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with device.blas_threads(None):
        assert _blas_threads() == before
