"""Run folders that change all at once: a run is built beside --out and swapped in when it is done.

    check_out_location(out)   before anything is loaded or written: --out is not a file and can
                              be created (a typo fails here, leaving the previous run as it was)
    begin_run(out)            `<out>.partial-<pid>/` with an INCOMPLETE marker: the run writes here
    finish_run(work, out)     marker removed; the old run renamed away, the new one renamed in,
                              the old one deleted, and partial folders of processes that are
                              gone (earlier failures) removed
    check_run_complete(dir)   ValueError for a folder whose run never finished

A run that fails or is interrupted (Ctrl-C) after begin_run leaves its partial folder, marked, and
never touches the complete run in --out. The renames are within one parent folder, so each is
atomic; between the two renames --out briefly does not exist, never half-written.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from data.cli import check_output_dir

INCOMPLETE = "INCOMPLETE"
_MARKER_TEXT = ("This run did not finish (it failed or was interrupted); its results are partial.\n"
                "The last complete run, if any, is the folder without the .partial-<pid> suffix.\n")


def check_out_location(out: str | Path) -> Path:
    """--out as a Path, or OSError naming it when no run folder can be made there."""
    return check_output_dir(out, "--out")


def partial_path(out: Path) -> Path:
    return out.parent / f"{out.name}.partial-{os.getpid()}"


def begin_run(out: str | Path) -> Path:
    """A fresh, marked work folder beside `out` for this process's run."""
    out = Path(out)
    work = partial_path(out)
    if work.exists():  # this pid's leftover from an earlier run in the same process
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / INCOMPLETE).write_text(_MARKER_TEXT)
    return work


def finish_run(work: Path, out: str | Path) -> Path:
    """Swap the finished work folder in as `out`; returns `out`."""
    out = Path(out)
    (work / INCOMPLETE).unlink()
    old = out.parent / f"{out.name}.old-{os.getpid()}"
    if out.exists():
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    work.rename(out)
    if old.exists():
        shutil.rmtree(old)
    remove_stale_partials(out)
    return out


def remove_stale_partials(out: Path) -> list[Path]:
    """Delete the marked partial folders of `out` whose process is gone: a complete run now
    stands in `out`, so an earlier failure's leftovers are no longer the latest word. A folder
    of a live process (a run still going) or without the marker is left alone."""
    removed = []
    for path in out.parent.glob(f"{out.name}.partial-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not (path / INCOMPLETE).is_file() or _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def check_run_complete(run_dir: str | Path) -> None:
    """ValueError when `run_dir` holds a run that did not finish (it has the INCOMPLETE marker)."""
    run_dir = Path(run_dir)
    if (run_dir / INCOMPLETE).is_file():
        raise ValueError(f"{run_dir}: incomplete run (it failed or was interrupted; see {INCOMPLETE}); "
                         "scores from it would be partial, rerun it")
