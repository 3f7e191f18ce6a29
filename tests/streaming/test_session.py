"""The session's pure parts: the noisy-runtime warning and the run-folder transaction."""
from __future__ import annotations

import pytest

from streaming.run_folder import INCOMPLETE, begin_run, finish_run
from streaming.session import check_run_complete, runtime_warnings


def test_noisy_runtimes_warn_against_the_warm_up():
    warmup = [0.5, 0.031, 0.030]  # the first call compiles: not the quiet speed
    assert runtime_warnings([0.03, 0.032, 0.035] * 10, warmup) == []
    loaded = [0.03] * 8 + [4.2, 4.1]  # the CPU got busy: p90 ~ 4 s
    (warning,) = runtime_warnings(loaded, warmup)
    assert "p90" in warning and "warm-up median 30.5 ms" in warning
    assert runtime_warnings([], warmup) == [] and runtime_warnings(loaded, []) == []


def test_run_folder_swaps_in_whole_and_marks_what_did_not_finish(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "report.md").write_text("old run")
    work = begin_run(out)
    assert work.parent == tmp_path and (work / INCOMPLETE).is_file()
    (work / "report.md").write_text("new run")
    with pytest.raises(ValueError, match="incomplete run"):
        check_run_complete(work)
    assert (out / "report.md").read_text() == "old run"  # untouched until the swap
    assert finish_run(work, out) == out
    assert (out / "report.md").read_text() == "new run" and not (out / INCOMPLETE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no old or partial folder left
    check_run_complete(out)
