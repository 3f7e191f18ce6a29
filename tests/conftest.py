"""Session-wide test settings."""
from __future__ import annotations

import os

import pytest

from detector.ov_cache import CACHE_ENV


@pytest.fixture(autouse=True, scope="session")
def _export_cache_in_tmp(tmp_path_factory):  # noqa: ANN001, ANN202
    """Checkpoints run on a CPU are exported to OpenVINO once and cached (detector.ov_cache): keep
    that cache in the session's temporary folder, never in the user's home, and restore the
    variable afterwards. Subprocesses inherit it."""
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("export_cache"))
    yield
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous
