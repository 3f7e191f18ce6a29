"""What every detector command shares: bad input ends with one line, not a traceback."""
from __future__ import annotations

from typing import Callable, Sequence


def run_cli(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None) -> None:
    """Run `main(argv)`; a missing file, an invalid value or a runtime that is not installed
    exits with `error: <message>` (status 1)."""
    from detector.backends.base import BackendUnavailable

    try:
        main(argv)
    except (FileNotFoundError, ValueError, BackendUnavailable) as e:
        raise SystemExit(f"error: {e}") from None
