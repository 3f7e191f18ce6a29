"""Latency-budget sweeps re-simulated from a run's every-frame detections."""
from __future__ import annotations

import json

import pytest

from data.cli import run_command
from eval_streaming.sweep import SweepPoint, main as sweep_main, sweep
from tests.support.toy_world import toy_detections, toy_world
from streaming.log import StreamLog, write_log
from streaming.simulate import offline_outputs


def main(argv):
    return run_command(sweep_main, argv)


@pytest.fixture(scope="module")
def setup():
    w = toy_world(sequences=2, frames=40, objects=5, seed=4)
    dets = toy_detections(w, seed=5)
    logs = [StreamLog(s.name, s.sid, w.fps, len(d), s.image_ids, list(w.classes), "offline", "offline",
                      offline_outputs(d, w.fps), meta={"runtimes": [0.05] * len(d)})
            for s, d in zip(w.sequences, dets)]
    return w, logs


def test_sweep_rows_follow_the_latency(setup):
    w, logs = setup
    points = [SweepPoint("fixed:0"), SweepPoint("fixed:0.05"), SweepPoint("fixed:0.1"),
              SweepPoint("fixed:0.1", forecast="kalman"), SweepPoint("measured", perf_factor=1.0),
              SweepPoint("fixed:0.1", perf_factor=2.0)]
    rows = sweep(logs, w.ground_truth, points)
    ref, zero, mid, slow, slow_kalman, measured, faster = rows
    assert ref["latency"] == "offline" and zero["AP"] == ref["AP"]
    assert zero["AP"] > mid["AP"] > slow["AP"]
    assert slow_kalman["AP"] > slow["AP"] + 10
    assert measured["AP"] == mid["AP"] and measured["missed"] == mid["missed"] == 4  # 0.05 s measured
    assert faster["AP"] == mid["AP"]  # 0.1 s on hardware twice as fast is 0.05 s
    assert slow["missed"] == 6 and slow["processed"] == 2 * 14  # frames 0, 3, ..., 39


def test_sweep_cli_writes_table_and_plot(setup, tmp_path, capsys):
    w, logs = setup
    for log in logs:
        write_log(log, tmp_path / "run" / "offline" / f"{log.sequence}.jsonl")
    ann = w.write_annotations(tmp_path / "val.json")
    assert main(["--run", str(tmp_path / "run"), "--annotations", str(ann), "--latency", "fixed:0.033", "fixed:0.066",
                 "--policy", "greedy", "shrinking-tail"]) == 0
    out = tmp_path / "run" / "sweep"
    rows = json.loads((out / "sweep.json").read_text())
    assert len(rows) == 5 and (out / "sweep.png").stat().st_size > 1000
    assert "| fixed:0.066 | shrinking-tail |" in capsys.readouterr().out


def test_measured_sweep_needs_runtimes(setup, tmp_path, capsys):
    w, logs = setup
    for log in logs:
        log = StreamLog(log.sequence, log.sid, log.fps, log.num_frames, log.image_ids, log.classes, "offline",
                        "offline", log.outputs)
        write_log(log, tmp_path / "run" / "offline" / f"{log.sequence}.jsonl")
    ann = w.write_annotations(tmp_path / "val.json")
    assert main(["--run", str(tmp_path / "run"), "--annotations", str(ann), "--latency", "measured"]) == 2
    assert "runtimes" in capsys.readouterr().err
