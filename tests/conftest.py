"""Suite-wide settings: no test may write to the user's real model cache."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_model_cache(tmp_path_factory):
    """Point ``EVODESIGN_CACHE_DIR`` at a temporary folder for the whole session."""
    patch = pytest.MonkeyPatch()
    patch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path_factory.mktemp("user-cache")))
    yield
    patch.undo()
