"""Session-wide test settings."""
from __future__ import annotations

import os

import pytest

from detector.ov_cache import CACHE_ENV, CALIBRATION_FRAMES_ENV


@pytest.fixture(autouse=True, scope="session")
def _export_cache_in_tmp(tmp_path_factory):  # noqa: ANN001, ANN202
    """Checkpoints run on a CPU are exported to OpenVINO once and cached (detector.ov_cache): keep
    that cache in the session's temporary folder, never in the user's home, and restore the
    variable afterwards; and calibrate automatic INT8 exports on a handful of frames (untrained toy
    models have no accuracy to keep). Subprocesses inherit both."""
    settings = {CACHE_ENV: str(tmp_path_factory.mktemp("export_cache")), CALIBRATION_FRAMES_ENV: "6"}
    previous = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    yield
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_subprocesses():  # noqa: ANN202
    """Tests Ctrl-C their subprocesses. A suite started in the background by a non-interactive
    shell (nohup, `&`) inherits SIGINT as *ignored*, which exec passes on, so the children would
    never see it; a handler (unlike "ignored") is reset to the default in each child."""
    import signal

    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
