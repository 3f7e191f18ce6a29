"""Paired sequence bootstrap between two recorded streams on a toy world whose objects move, so a
stream one frame behind scores clearly higher than one three frames behind."""
from __future__ import annotations

import json

import pytest

from data.cli import run_command
from eval_streaming.compare import ResampledScorer, main as compare_main, paired_bootstrap, sequence_results
from eval_streaming.evaluate import evaluate_logs
from eval_streaming.sweep import SweepPoint, frame_caches, simulate_point
from streaming.log import StreamLog, write_log
from streaming.simulate import offline_outputs
from tests.support.toy_world import toy_detections, toy_world


@pytest.fixture(scope="module")
def streams():
    w = toy_world(sequences=6, frames=20, objects=5, seed=11)
    dets = toy_detections(w, seed=12)
    offline = [StreamLog(s.name, s.sid, w.fps, len(d), s.image_ids, list(w.classes), "offline", "offline",
                         offline_outputs(d, w.fps)) for s, d in zip(w.sequences, dets)]
    caches = frame_caches(offline)
    fast = simulate_point(offline, caches, SweepPoint("fixed:0.033"))
    slow = simulate_point(offline, caches, SweepPoint("fixed:0.1"))
    return w, fast, slow


def test_full_set_ap_is_the_evaluators_and_the_faster_stream_wins(streams):
    w, fast, slow = streams
    a = sequence_results(fast, w.ground_truth, "none")
    b = sequence_results(slow, w.ground_truth, "none")
    result = paired_bootstrap(a, b, w.dataset, list(w.ground_truth.category_ids), draws=40, seed=3)
    assert result.ap_a == pytest.approx(evaluate_logs(fast, w.ground_truth)[0].streaming.AP)
    assert result.ap_b == pytest.approx(evaluate_logs(slow, w.ground_truth)[0].streaming.AP)
    assert result.ap_a > result.ap_b + 5
    assert 0 < result.low <= result.mean_diff <= result.high and result.a_better == 1.0
    assert (result.sequences, result.draws) == (6, 40)
    again = paired_bootstrap(a, b, w.dataset, list(w.ground_truth.category_ids), draws=40, seed=3)
    assert again == result  # seeded


def test_a_stream_against_itself_differs_by_nothing(streams):
    w, fast, _ = streams
    a = sequence_results(fast, w.ground_truth, "none")
    result = paired_bootstrap(a, a, w.dataset, list(w.ground_truth.category_ids), draws=10)
    assert result.mean_diff == result.low == result.high == 0.0 and result.a_better == 0.0


def test_a_draw_scores_each_picked_sequence_once_per_pick(streams):
    w, fast, slow = streams
    a = sequence_results(fast, w.ground_truth, "none")
    b = sequence_results(slow, w.ground_truth, "none")
    scorer = ResampledScorer(w.dataset, list(w.ground_truth.category_ids))
    one = sorted(a)[:1]
    single = scorer.score(one, a)[0]
    assert single == pytest.approx(evaluate_logs(fast[:1], w.ground_truth)[0].streaming.AP)
    twice = scorer.score(one * 2, a)[0]
    assert twice == pytest.approx(single, abs=1.0)  # the same frames twice: the same curve, up to ties
    assert scorer.score(sorted(a), a, b) == [pytest.approx(x) for x in (
        evaluate_logs(fast, w.ground_truth)[0].streaming.AP, evaluate_logs(slow, w.ground_truth)[0].streaming.AP)]


def test_cli_writes_the_comparison_and_refuses_different_sequences(streams, tmp_path, capsys):
    w, fast, slow = streams
    ann = w.write_annotations(tmp_path / "val.json")
    for name, logs in (("a", fast), ("b", slow), ("short", slow[:3])):
        for log in logs:
            write_log(log, tmp_path / name / "logs" / f"{log.sequence}.jsonl")
    argv = ["--annotations", str(ann), "--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"),
            "--b-forecast", "kalman", "--draws", "20", "--out", str(tmp_path / "cmp")]
    assert run_command(compare_main, argv) == 0
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert record["b_forecast"] == "kalman" and record["draws"] == 20
    assert record["ap_b"] == pytest.approx(evaluate_logs(slow, w.ground_truth, forecast="kalman")[0].streaming.AP)
    assert "95% interval" in capsys.readouterr().out
    argv[5] = str(tmp_path / "short")
    assert run_command(compare_main, argv) == 2
    assert "different sequences" in capsys.readouterr().err
