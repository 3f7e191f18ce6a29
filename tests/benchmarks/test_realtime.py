"""benchmarks/realtime: repeated runs of a rung collapse to medians, the worst run's frame count,
and how many of the runs kept up; the ladder's rung syntax is checked."""
from __future__ import annotations

import pytest

from benchmarks.realtime import parse_rung, rung_checkpoint, summarize


def _run(fps: float, p50: float, processed: int, offered: int = 120) -> dict:
    return {"processed_fps": fps, "p50_ms": p50, "p90_ms": 2 * p50, "processed": processed, "offered": offered,
            "keeps_up": processed == offered, "backend": "openvino", "precision": "int8"}


def test_summarize_takes_medians_and_the_worst_run() -> None:
    row = summarize([_run(30.3, 15.0, 120), _run(28.5, 34.0, 114), _run(30.1, 17.0, 120)])
    assert row["processed_fps"] == 30.1 and row["p50_ms"] == 17.0 and row["p90_ms"] == 34.0
    assert (row["processed"], row["offered"]) == (114, 120)
    assert (row["kept_up_runs"], row["runs"], row["keeps_up"]) == (2, 3, False)
    assert row["backend"] == "openvino"


def test_summarize_of_one_run_is_that_run() -> None:
    row = summarize([_run(30.0, 16.0, 120)])
    assert row["keeps_up"] and row["kept_up_runs"] == 1 and row["p50_ms"] == 16.0
    with pytest.raises(ValueError, match="no runs"):
        summarize([])


def test_parse_rung_rejects_sizes_off_the_stride() -> None:
    assert parse_rung("yolox_s:384x640") == ("yolox_s", (384, 640))
    with pytest.raises(SystemExit, match="multiple of 32"):
        parse_rung("yolox_s:380x640")
    with pytest.raises(SystemExit, match="MODEL:HxW"):
        parse_rung("yolox_s")


def test_a_checkpoint_rung_keeps_its_weights(tmp_path) -> None:
    trained = tmp_path / "mine.pth"
    trained.write_bytes(b"weights")
    assert parse_rung(f"{trained}:608x960") == (str(trained), (608, 960))
    assert rung_checkpoint(str(trained), tmp_path) == trained
    with pytest.raises(SystemExit, match="no such checkpoint"):
        rung_checkpoint(str(tmp_path / "missing.pth"), tmp_path)
