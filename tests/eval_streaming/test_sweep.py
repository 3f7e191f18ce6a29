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


def _recorded_stream(w, dets, latency: str, *, ahead: int) -> list[StreamLog]:
    """What streaming.run records for a detector whose output at frame k is frame k + ahead's
    detections (a perfect one-frame forecaster when ahead = 1; meta says so, as a StreamYOLO's)."""
    from streaming.latency import parse_latency
    from streaming.simulate import CachedFrames, simulate_sequence

    logs = []
    for s, d in zip(w.sequences, dets):
        shifted = [d[min(k + ahead, len(d) - 1)] for k in range(len(d))]
        run = simulate_sequence(CachedFrames(shifted), num_frames=len(d), fps=w.fps, latency=parse_latency(latency),
                                key=s.sid)
        logs.append(StreamLog(s.name, s.sid, w.fps, len(d), s.image_ids, list(w.classes), latency, "greedy",
                              run.outputs, meta={"forecast_frames": ahead} if ahead else {}))
    return logs


def test_a_learned_forecasters_offline_row_is_its_next_frame_ap(setup):
    w, logs = setup
    dets = toy_detections(w, seed=5)
    ahead = [StreamLog(s.name, s.sid, w.fps, len(d), s.image_ids, list(w.classes), "offline", "offline",
                       offline_outputs([d[min(k + 1, len(d) - 1)] for k in range(len(d))], w.fps),
                       meta={"forecast_frames": 1}) for s, d in zip(w.sequences, dets)]
    row = sweep(ahead, w.ground_truth, [])[0]
    plain = sweep(logs, w.ground_truth, [])[0]
    assert row["forecast"] == "next frame" and plain["forecast"] == "-"
    # frames 1.. scored with the very detections the plain run has on them; the first frames are left out
    from data.coco_eval import Scorer, results_array

    ids, cats = [i for s in w.sequences for i in s.image_ids[1:]], list(w.ground_truth.category_ids)
    expected = Scorer(w.ground_truth.coco, ids, category_ids=cats).evaluate(
        results_array(ids, [x.top(100) for d in dets for x in d[1:]], cats))
    assert row["AP"] == round(expected.AP, 4) and row["processed"] == plain["processed"] == 80


def test_a_learned_forecasters_recorded_streams_join_the_sweep(setup, tmp_path, capsys):
    from eval_streaming.sweep import stream_rows

    w, logs = setup
    dets = toy_detections(w, seed=5)
    learned, kalman_on_top = stream_rows(_recorded_stream(w, dets, "fixed:0.033", ahead=1), w.ground_truth,
                                         ["none", "kalman"], source="sy")
    assert (learned["forecast"], kalman_on_top["forecast"]) == ("learned", "learned + kalman")
    assert learned["latency"] == "fixed:0.033" and learned["source"] == "sy"
    zero, late = sweep(logs, w.ground_truth, [SweepPoint("fixed:0"), SweepPoint("fixed:0.033")])[1:]
    # predicting the next frame at one frame of latency recovers the zero-latency score, but for
    # each sequence's first frame (nothing is out by then)
    assert learned["missed"] == 2 and zero["AP"] - 3 < learned["AP"] <= zero["AP"]
    assert learned["AP"] > late["AP"] + 5
    plain = stream_rows(_recorded_stream(w, dets, "fixed:0.033", ahead=0), w.ground_truth, ["none"])[0]
    assert plain["forecast"] == "none" and plain["AP"] == pytest.approx(late["AP"])
    # through the command: one recorded run per latency, beside the replayed points
    for log in logs:
        write_log(log, tmp_path / "run" / "offline" / f"{log.sequence}.jsonl")
    for latency in ("fixed:0.033", "fixed:0.1"):
        for log in _recorded_stream(w, dets, latency, ahead=1):
            write_log(log, tmp_path / latency / "logs" / f"{log.sequence}.jsonl")
    ann = w.write_annotations(tmp_path / "val.json")
    assert main(["--run", str(tmp_path / "run"), "--annotations", str(ann), "--latency", "fixed:0.1",
                 "--forecast", "none", "kalman", "--stream", str(tmp_path / "fixed:0.033"),
                 str(tmp_path / "fixed:0.1")]) == 0
    rows = json.loads((tmp_path / "run" / "sweep" / "sweep.json").read_text())
    assert [(r["latency"], r["forecast"]) for r in rows[3:]] == [
        ("fixed:0.033", "learned"), ("fixed:0.033", "learned + kalman"),
        ("fixed:0.1", "learned"), ("fixed:0.1", "learned + kalman")]
    assert "| fixed:0.1 | greedy | learned + kalman |" in capsys.readouterr().out
