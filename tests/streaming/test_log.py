"""Stream log files: exact round trip, determinism of simulated runs, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.classes import ARGOVERSE_HD_CLASSES
from data.detections import Detections
from streaming.latency import parse_latency
from streaming.log import LogWriter, StreamLog, StreamLogError, StreamOutput, log_files, read_log, read_logs, write_log
from streaming.simulate import CachedFrames, simulate_sequence


def _dets(rng: np.random.Generator, n: int) -> Detections:
    xy = rng.uniform(0, 1000, (n, 2))
    return Detections(np.concatenate([xy, xy + rng.uniform(1, 99, (n, 2))], 1), rng.random(n), rng.integers(0, 8, n))


def _run_log(tmp_path, name: str, *, seed: int, spec: str) -> StreamLog:
    rng = np.random.default_rng(0)
    cache = CachedFrames([_dets(rng, 3) for _ in range(40)])
    run = simulate_sequence(cache, num_frames=40, fps=30, latency=parse_latency(spec, seed=seed), key=5)
    return StreamLog(name, 5, 30.0, 40, list(range(100, 140)), list(ARGOVERSE_HD_CLASSES), spec, "greedy",
                     run.outputs, seed=seed)


@pytest.fixture
def profile(tmp_path):
    p = tmp_path / "profile.json"
    p.write_text("[0.031, 0.052, 0.074, 0.1]")
    return p


def test_round_trip_is_exact(tmp_path, profile):
    log = _run_log(tmp_path, "seq", seed=1, spec=f"profile:{profile}")
    path = write_log(log, tmp_path / "logs" / "seq.jsonl")
    back = read_log(path)
    assert back.header() == log.header()
    assert len(back.outputs) == len(log.outputs) > 5
    for a, b in zip(log.outputs, back.outputs):
        assert (a.t_start, a.t_done, a.frame_index, a.runtime) == (b.t_start, b.t_done, b.frame_index, b.runtime)
        assert np.array_equal(a.detections.boxes, b.detections.boxes)
        assert np.array_equal(a.detections.scores, b.detections.scores)
        assert np.array_equal(a.detections.labels, b.detections.labels)
    assert write_log(back, tmp_path / "again.jsonl").read_bytes() == path.read_bytes()
    assert log_files(tmp_path) == [path] and len(read_logs(tmp_path / "logs")) == 1


def test_same_seed_gives_identical_log_bytes(tmp_path, profile):
    spec = f"profile:{profile}"
    a = write_log(_run_log(tmp_path, "s", seed=3, spec=spec), tmp_path / "a.jsonl").read_bytes()
    b = write_log(_run_log(tmp_path, "s", seed=3, spec=spec), tmp_path / "b.jsonl").read_bytes()
    c = write_log(_run_log(tmp_path, "s", seed=4, spec=spec), tmp_path / "c.jsonl").read_bytes()
    assert a == b
    assert a != c


def _write_lines(path, lines):
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n")
    return path


def _good_header():
    return StreamLog("s", 0, 30.0, 3, [1, 2, 3], list(ARGOVERSE_HD_CLASSES), "fixed:0", "greedy").header()


def _output(**over):
    out = {"t_start": 0.0, "t_done": 0.1, "frame_index": 0, "runtime": 0.1,
           "detections": {"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": [2]}}
    out.update(over)
    return out


@pytest.mark.parametrize(
    "lines,line,message",
    [
        ([{"schema": "other"}], 1, "not a stream log"),
        ([{**_good_header(), "version": 99}], 1, "unsupported stream log version 99"),
        ([{k: v for k, v in _good_header().items() if k != "fps"}], 1, "lacks 'fps'"),
        ([{**_good_header(), "image_ids": [1]}], 1, "image_ids"),
        ([_good_header(), "{not json"], 2, "not valid JSON"),
        ([_good_header(), _output(), _output(frame_index=3)], 3, "frame_index 3 out of range"),
        ([_good_header(), _output(t_done="soon")], 2, "'t_done' must be a finite number"),
        ([_good_header(), _output(detections={"boxes": [[0, 0, 1, 1]], "scores": [], "labels": [1]})], 2, "bad detections"),
        ([_good_header(), _output(detections={"boxes": [[0, 0, 1, 1]], "scores": [1], "labels": [8]})], 2, "label outside"),
        ([_good_header(), _output(t_done=0.2), _output(t_done=0.1)], 3, "back in time"),
    ],
)
def test_malformed_logs_name_file_and_line(tmp_path, lines, line, message):
    path = _write_lines(tmp_path / "bad.jsonl", lines)
    with pytest.raises(StreamLogError) as e:
        read_log(path)
    assert f"bad.jsonl:{line}:" in str(e.value)
    assert message in str(e.value)


def test_empty_and_missing_logs(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(StreamLogError, match="empty.jsonl: empty stream log"):
        read_log(tmp_path / "empty.jsonl")
    with pytest.raises(FileNotFoundError, match="gone.jsonl"):
        read_log(tmp_path / "gone.jsonl")
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match="no stream logs"):
        log_files(tmp_path / "run")


def _live_header() -> StreamLog:
    return StreamLog(sequence="live", sid=0, fps=30.0, num_frames=0, image_ids=[], classes=["a", "b"],
                     latency="measured", policy="greedy", meta={"mode": "live"})


def _output(i: int) -> StreamOutput:
    dets = Detections(np.array([[1.0, 2.0, 3.5, 4.25]]), np.array([0.5]), np.array([i % 2]))
    return StreamOutput(i / 30, i / 30 + 0.01, i, 0.01, dets)


def test_streamed_log_reads_complete_and_cut_off(tmp_path):
    path = tmp_path / "live.jsonl"
    writer = LogWriter(_live_header(), path)
    for i in range(3):
        writer.write(_output(i))
    # readable at every moment of the run: no footer yet
    cut = read_log(path)
    assert len(cut.outputs) == 3 and cut.num_frames == 3 and cut.meta["complete"] is False
    writer.close(10, {"received": 10})
    done = read_log(path)
    assert done.num_frames == 10 and done.meta == {"mode": "live", "received": 10, "complete": True}
    assert [(o.frame_index, o.t_done, o.detections.to_dict()) for o in done.outputs] == \
        [(o.frame_index, o.t_done, o.detections.to_dict()) for o in cut.outputs]
    # a crash in the middle of a line loses only that output
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text[:3]) + text[3][:20])
    assert [o.frame_index for o in read_log(path).outputs] == [0, 1]
    # ...but garbage inside the file is still an error naming the line
    path.write_text("".join(text[:2]) + "{oops\n" + "".join(text[2:]))
    with pytest.raises(StreamLogError, match="live.jsonl:3: not valid JSON"):
        read_log(path)
