from pathlib import Path

import pytest


@pytest.fixture
def numbers(tmp_path: Path) -> Path:
    """An input folder of 20 small text files holding the numbers 1..20."""
    folder = tmp_path / "numbers"
    folder.mkdir()
    for i in range(1, 21):
        (folder / f"n{i:02d}.txt").write_text(str(i))
    return folder
