"""Driving command subprocesses in tests: bounded waits and Ctrl-C with the exit-code check."""
from __future__ import annotations

import signal
import subprocess
import time
from typing import Callable


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate` until true; fail naming `what` after `timeout_s` (never hang a test)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def interrupt(proc: subprocess.Popen, timeout_s: float = 60.0) -> str:
    """Ctrl-C `proc` and return its stderr, checking the convention of data/cli.py: exit code
    130 and one line "interrupted", no traceback. The process is killed if it does not stop."""
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    # a progress bar redraws its line with carriage returns: the last line is what follows the last one
    last_line = err.strip().splitlines()[-1].split("\r")[-1]
    assert last_line == "interrupted" and "Traceback" not in err, err[-2000:]
    return err
