"""The wall-clock runner against replayed and threaded sources (real sleeps, loose timing)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from data.detections import Detections
from streaming.realtime import run_realtime
from streaming.scheduler import SchedulerError, frame_at
from streaming.sources import ReplaySource, ThreadedSource


def _frame(i: int) -> np.ndarray:
    img = np.zeros((8, 8, 3), np.uint8)
    img[0, 0, 0] = i
    return img


def _detector(runtime_s: float, fail_on: int = -1):
    def detect(frames):
        index = int(frames[0][0, 0, 0])
        if index == fail_on:
            raise ValueError("backend rejected the frame")
        time.sleep(runtime_s)
        return [Detections(np.array([[0, 0, 4, 4]]), np.array([0.5]), np.array([index % 8]))]

    return detect


def _check_stream_rules(outputs, fps: float, num_frames: int):
    idx = [o.frame_index for o in outputs]
    assert idx == sorted(set(idx))
    for prev, out in zip([None] + outputs[:-1], outputs):
        assert out.frame_index / fps <= out.t_start + 1e-3  # never before the frame arrived
        assert out.t_start < num_frames / fps + 1e-3  # nothing starts after the sequence
        assert out.t_done >= out.t_start
        if prev is not None:
            assert out.t_start >= prev.t_done - 1e-9  # one call at a time
            # no older than the newest frame when the detector became free (or the next one
            # if that was done already), never from the future
            assert max(frame_at(prev.t_done, fps), prev.frame_index + 1) <= out.frame_index
            assert out.frame_index <= frame_at(out.t_start, fps)


def test_replay_drops_frames_like_the_simulator():
    fps, n = 50.0, 25
    loaded = []

    def load(i):
        loaded.append(i)
        return _frame(i)

    run = run_realtime(ReplaySource(load, num_frames=n, fps=fps), _detector(0.03), policy="greedy")
    _check_stream_rules(run.outputs, fps, n)
    assert 3 <= len(run.outputs) < n  # 1.5 frame periods per call: about 2 of 3 frames processed
    assert loaded == [o.frame_index for o in run.outputs]  # only taken frames are read
    assert all(o.runtime >= 0.029 for o in run.outputs)
    assert [int(o.detections.labels[0]) for o in run.outputs] == [o.frame_index % 8 for o in run.outputs]


def test_unreadable_frame_is_skipped_and_counted():
    def load(i):
        if i == 2:
            raise ValueError("000002.jpg: cannot decode image")
        return _frame(i)

    source = ReplaySource(load, num_frames=6, fps=50.0)
    run = run_realtime(source, _detector(0.0))
    idx = [o.frame_index for o in run.outputs]
    assert 2 not in idx and idx[0] == 0 and idx[-1] == 5
    assert source.bad_frames == ["frame 2: 000002.jpg: cannot decode image"]


def test_fast_detector_waits_for_each_frame():
    fps, n = 50.0, 10
    run = run_realtime(ReplaySource(_frame, num_frames=n, fps=fps), _detector(0.0), policy="greedy")
    idx = [o.frame_index for o in run.outputs]
    assert idx[0] == 0 and len(idx) >= n - 2  # a loaded machine may oversleep past a frame
    assert all(o.t_start >= o.frame_index / fps for o in run.outputs)


def test_shrinking_tail_runs_and_keeps_the_rules():
    fps, n = 50.0, 25
    run = run_realtime(ReplaySource(_frame, num_frames=n, fps=fps), _detector(0.03), policy="shrinking-tail")
    _check_stream_rules(run.outputs, fps, n)
    assert len(run.outputs) >= 5


def test_threaded_source_and_rejected_frames():
    fps = 100.0
    source = ThreadedSource((_frame(i) for i in range(20)), fps=fps)
    run = run_realtime(source, _detector(0.001, fail_on=4), policy="greedy", idle_timeout=2.0)
    idx = [o.frame_index for o in run.outputs]
    assert idx == sorted(set(idx)) and 4 not in idx and len(idx) >= 10
    assert run.failed_frames == ["frame 4: backend rejected the frame"]
    assert source.error is None


def test_max_frames_and_bad_policy():
    run = run_realtime(ReplaySource(_frame, num_frames=50, fps=100.0), _detector(0.0), max_frames=3)
    assert len(run.outputs) == 3
    with pytest.raises(SchedulerError, match="policy"):
        run_realtime(ReplaySource(_frame, num_frames=5, fps=30.0), _detector(0.0), policy="eager")
