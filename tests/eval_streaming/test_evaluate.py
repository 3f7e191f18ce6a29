"""Streaming AP (data.coco_eval, faster-coco-eval) on a moving-box world: zero latency equals
offline AP, latency costs AP, submissions, the re-scoring CLI and its errors, logs of another
dataset refused."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from data.cli import run_command
from eval_streaming.evaluate import CocoGroundTruth, evaluate_logs, main as evaluate_main, submission_records
from eval_streaming.report import format_report
from tests.support.toy_world import toy_detections, toy_world
from streaming.latency import parse_latency
from streaming.log import StreamLog, write_log
from streaming.simulate import CachedFrames, offline_outputs, simulate_sequence


def main(argv):
    return run_command(evaluate_main, argv)


@pytest.fixture(scope="module")
def world():
    w = toy_world(sequences=2, frames=45, objects=6, seed=1)
    return w, toy_detections(w, seed=2)


def _logs(world, spec: str, policy: str = "greedy") -> list[StreamLog]:
    w, dets = world
    logs = []
    for seq, per_frame in zip(w.sequences, dets):
        run = simulate_sequence(CachedFrames(per_frame), num_frames=len(per_frame), fps=w.fps,
                                latency=parse_latency(spec), policy=policy, key=seq.sid)
        logs.append(StreamLog(seq.name, seq.sid, w.fps, len(per_frame), seq.image_ids, list(w.classes),
                              spec, policy, run.outputs))
    return logs


def _offline_logs(world) -> list[StreamLog]:
    w, dets = world
    return [StreamLog(s.name, s.sid, w.fps, len(d), s.image_ids, list(w.classes), "fixed:0", "greedy",
                      offline_outputs(d, w.fps)) for s, d in zip(w.sequences, dets)]


def test_zero_latency_streaming_ap_equals_offline_ap(world):
    result, _ = evaluate_logs(_logs(world, "fixed:0"), world[0].ground_truth, offline_logs=_offline_logs(world))
    s, o = result.streaming.to_dict(), result.offline.to_dict()
    assert s == o
    assert 40 < result.streaming.AP < 100
    assert result.association["missed"] == 0 and result.association["in_time"] == 90
    # without separate offline logs, a stream that processed every frame gives offline AP itself
    alone, _ = evaluate_logs(_logs(world, "fixed:0"), world[0].ground_truth)
    assert alone.offline.to_dict() == o


def test_latency_costs_ap_and_misses_first_frames(world):
    result, pairings = evaluate_logs(_logs(world, "fixed:0.05"), world[0].ground_truth,
                                     offline_logs=_offline_logs(world))
    assert result.streaming.AP < result.offline.AP - 5
    # 1.5 frame periods: frames 0 and 1 come before the first output (at 1.5)
    assert result.association["missed"] == 4 and [p.missed for p in pairings] == [2, 2]
    assert result.association["in_time"] == 0
    assert result.association["mean_frames_behind"] == pytest.approx(np.mean([p.frames_behind[2:] for p in pairings]))
    assert all(len(d) == 0 for p in pairings for d in p.predictions[:2])
    # offline AP needs every frame's own detections: a dropping stream alone cannot give it
    alone, _ = evaluate_logs(_logs(world, "fixed:0.05"), world[0].ground_truth)
    assert alone.offline is None
    report = format_report(result)
    assert "| streaming |" in report and "| offline |" in report and "person" in report


def test_a_learned_forecasters_offline_ap_is_scored_on_the_next_frame(world):
    """A StreamYOLO's output at frame k describes frame k + 1 (meta forecast_frames): its offline
    AP pairs them, and a sequence's first frame (which nothing describes) is not scored."""
    from data.coco_eval import Scorer, results_array

    w, dets = world
    ahead = [[d[min(k + 1, len(d) - 1)] for k in range(len(d))] for d in dets]  # a perfect one-frame forecaster
    logs = [StreamLog(s.name, s.sid, w.fps, len(d), s.image_ids, list(w.classes), "fixed:0", "greedy",
                      offline_outputs(d, w.fps), meta={"forecast_frames": 1}) for s, d in zip(w.sequences, ahead)]
    result, _ = evaluate_logs(logs, w.ground_truth)
    ids = [i for s in w.sequences for i in s.image_ids[1:]]
    cats = list(w.ground_truth.category_ids)
    expected = Scorer(w.ground_truth.coco, ids, category_ids=cats).evaluate(
        results_array(ids, [x.top(100) for d in dets for x in d[1:]], cats))
    assert result.offline.AP == pytest.approx(expected.AP, abs=1e-12) and result.offline.num_images == 88
    assert result.settings["offline_target"] == "next frame"
    assert "| offline (next frame) |" in format_report(result)
    # scored against their own frames (the old reading), the forecasts of moving boxes look worse
    for log in logs:
        log.meta.clear()
    same_frame, _ = evaluate_logs(logs, w.ground_truth)
    assert same_frame.offline.AP < result.offline.AP - 5 and "offline_target" not in same_frame.settings


def test_logs_of_another_dataset_are_refused(world):
    """Integer image ids overlap between datasets; the sequence names tell them apart."""
    w, _ = world
    other = copy.deepcopy(w.dataset)
    other["sequences"] = ["elsewhere0", "elsewhere1"]
    with pytest.raises(ValueError, match="seq000.*no such sequence"):
        evaluate_logs(_logs(world, "fixed:0"), CocoGroundTruth.from_dataset(other))
    swapped = copy.deepcopy(w.dataset)
    swapped["sequences"] = swapped["sequences"][::-1]  # same names, other sids
    with pytest.raises(ValueError, match="has sid 0 but in the annotations it is sid 1"):
        evaluate_logs(_logs(world, "fixed:0"), CocoGroundTruth.from_dataset(swapped))
    logs = _logs(world, "fixed:0")
    logs[0].image_ids = list(logs[1].image_ids)  # frames of the other sequence
    with pytest.raises(ValueError, match="belongs to sid 1"):
        evaluate_logs(logs, w.ground_truth)


def test_submission_records_cover_paired_frames(world):
    logs = _logs(world, "fixed:0.05")
    _, pairings = evaluate_logs(logs, world[0].ground_truth)
    records = submission_records(logs, pairings, world[0].ground_truth.category_ids)
    assert len(records) == sum(len(d) for p in pairings for d in p.predictions)
    assert set(records[0]) == {"image_id", "bbox", "score", "category_id"}
    paired_ids = {i for log, p in zip(logs, pairings) for i, d in zip(log.image_ids, p.predictions) if len(d)}
    assert {r["image_id"] for r in records} == paired_ids
    first = pairings[0].predictions[2]
    rec = [r for r in records if r["image_id"] == logs[0].image_ids[2]]
    box = first.boxes[0].astype(np.float64)
    assert rec[0]["bbox"] == pytest.approx([box[0], box[1], box[2] - box[0], box[3] - box[1]])


def test_test_split_without_annotations_pairs_but_scores_nothing(world):
    w, _ = world
    meta = {k: v for k, v in w.dataset.items() if k != "annotations"}
    gt = CocoGroundTruth.from_dataset(meta)
    result, pairings = evaluate_logs(_logs(world, "fixed:0.05"), gt)
    assert result.streaming is None and result.offline is None
    assert "No annotations" in format_report(result)
    assert len(submission_records(_logs(world, "fixed:0.05"), pairings, gt.category_ids)) > 0


def test_class_mismatch_is_a_clear_error(world):
    logs = _logs(world, "fixed:0")
    logs[0].classes = ["car"]
    with pytest.raises(ValueError, match="seq000.*classes"):
        evaluate_logs(logs, world[0].ground_truth)


def _save_run(world, tmp_path, spec: str):
    run = tmp_path / "run"
    for log in _logs(world, spec):
        write_log(log, run / "logs" / f"{log.sequence}.jsonl")
    for log in _offline_logs(world):
        write_log(log, run / "offline" / f"{log.sequence}.jsonl")
    return run, world[0].write_annotations(tmp_path / "annotations" / "val.json")


def test_cli_rescores_a_saved_run(world, tmp_path, capsys):
    run, ann = _save_run(world, tmp_path, "fixed:0.05")
    sub = tmp_path / "sub.json"
    assert main(["--log", str(run), "--annotations", str(ann), "--submission", str(sub)]) == 0
    report = json.loads((run / "report.json").read_text())
    direct, _ = evaluate_logs(_logs(world, "fixed:0.05"), world[0].ground_truth, offline_logs=_offline_logs(world))
    assert report["streaming"]["AP"] == pytest.approx(direct.streaming.AP, abs=1e-4)
    assert report["offline"]["AP"] == pytest.approx(direct.offline.AP, abs=1e-4)
    assert report["settings"]["latency"] == "fixed:0.05"
    assert (run / "report.md").read_text().startswith("# Streaming evaluation")
    assert isinstance(json.loads(sub.read_text()), list)
    assert "| streaming |" in capsys.readouterr().out
    # eta = -1 (the sAP toolkit's sign) shifts the queries one frame later: fewer misses
    assert main(["--log", str(run / "logs"), "--annotations", str(ann), "--eta", "-1", "--out", str(tmp_path / "eta")]) == 0
    assert json.loads((tmp_path / "eta" / "report.json").read_text())["association"]["missed"] == 2


def test_cli_errors_name_the_file(world, tmp_path, capsys):
    run, ann = _save_run(world, tmp_path, "fixed:0")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [], "categories": []}))
    assert main(["--log", str(run), "--annotations", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
    broken = run / "logs" / "seq001.jsonl"
    broken.write_text(broken.read_text().replace('"frame_index":3', '"frame_index":"3"'))
    assert main(["--log", str(run), "--annotations", str(ann)]) == 2
    assert "seq001.jsonl:5: frame_index" in capsys.readouterr().err
    assert main(["--log", str(tmp_path / "nothing"), "--annotations", str(ann)]) == 2
    for eta in ("nan", "inf", "-inf", "-2"):
        with pytest.raises(SystemExit) as e:  # argparse's usage error
            main(["--log", str(run), "--annotations", str(ann), "--eta", eta])
        assert e.value.code == 2
    assert "--eta: must be a finite number >= -1" in capsys.readouterr().err


def test_undefined_ap_is_none_null_and_dash(world):
    w, _ = world
    dataset = copy.deepcopy(w.dataset)
    dataset["annotations"] = [a for a in w.dataset["annotations"] if a["category_id"] != 7]
    result, _ = evaluate_logs(_logs(world, "fixed:0"), CocoGroundTruth.from_dataset(dataset))
    assert result.streaming.per_class["stop_sign"] is None and result.streaming.APs is None
    assert result.streaming.to_dict()["per_class"]["stop_sign"] is None
    assert '"stop_sign": null' in json.dumps(result.to_dict(), allow_nan=False)
    assert "| stop_sign | - | - |" in format_report(result)


@pytest.mark.parametrize("method", ["kalman", "bytetrack"])
def test_forecasting_recovers_ap_lost_to_latency(world, method):
    logs = _logs(world, "fixed:0.1")
    plain, _ = evaluate_logs(logs, world[0].ground_truth)
    forecast, pairings = evaluate_logs(logs, world[0].ground_truth, forecast=method)
    assert forecast.streaming.AP > plain.streaming.AP + 10  # boxes move at constant velocity
    assert forecast.settings["forecast"] == method
    assert [p.missed for p in pairings] == [3, 3]  # forecasting needs an output to start from


def test_an_incomplete_run_is_refused(world, tmp_path, capsys):
    run, ann = _save_run(world, tmp_path, "fixed:0")
    (run / "INCOMPLETE").write_text("interrupted\n")
    assert main(["--log", str(run), "--annotations", str(ann)]) == 2
    assert "incomplete run" in capsys.readouterr().err
