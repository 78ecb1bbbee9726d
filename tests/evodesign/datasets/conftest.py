from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write text to ``tmp_path / name`` and return the path."""

    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
