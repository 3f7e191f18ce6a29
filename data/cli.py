"""The one exit-code convention of every `python -m ...` command, and its bad-input wrapper.

    0  success
    1  internal failure (a bug: the traceback is printed)
    2  bad input: a missing or malformed file, an invalid value, a runtime that is not installed
  130  interrupted (Ctrl-C), one line, no traceback

Bad input is any `ValueError` (config, annotation, model-file and frame errors all derive from
it), `OSError` about a path (missing file, a folder where a file was expected, no permission)
or `ImportError` (an optional runtime such as OpenVINO or TensorRT that is not installed).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Sequence

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

BAD_INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ImportError)


def run_command(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run `main(argv)` and turn its outcome into an exit code; bad input prints `error: ...`."""
    try:
        code = main(argv)
    except BAD_INPUT_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if code is None else int(code)


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """`path` as a Path, or an OSError naming it when no output folder can be made there (it is
    a file, sits under a file, or its first existing parent is not writable). Commands call it
    before loading anything, so a typo fails in a second and writes nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path}: {flag} is a file, not a folder")
    parent = path.absolute().parent
    while not parent.exists():  # the first folder that exists must let us create the rest
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{path}: cannot create the {flag} folder ({parent} is a file)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: cannot create the {flag} folder (no write permission in {parent})")
    return path
