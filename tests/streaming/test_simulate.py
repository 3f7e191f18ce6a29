"""The simulator around the scheduler: what gets run, skipped frames, measured runtimes."""
from __future__ import annotations

import numpy as np
import pytest

from data.detections import Detections
from detector.runner import FrameRunner
from streaming.latency import parse_latency
from streaming.simulate import CachedFrames, DetectorFrames, offline_outputs, simulate_sequence


def _dets(i: int) -> Detections:
    return Detections(np.array([[i, 0, i + 5, 5]]), np.array([0.5]), np.array([i % 8]))


def test_cache_is_only_read_for_processed_frames():
    reads = []

    class CountingCache(CachedFrames):
        def __call__(self, index):
            reads.append(index)
            return super().__call__(index)

    run = simulate_sequence(CountingCache([_dets(i) for i in range(12)]), num_frames=12, fps=30,
                            latency=parse_latency("fixed:0.05"))
    assert reads == [o.frame_index for o in run.outputs] == [0, 1, 3, 4, 6, 7, 9, 10]
    assert [int(o.detections.boxes[0, 0]) for o in run.outputs] == reads


def test_detector_runs_only_picked_frames_and_skips_unreadable_ones():
    seen, clock = [], iter(np.arange(0, 100, 0.02)).__next__  # each call "takes" 20 ms

    def load(i):
        if i == 3:
            raise FileNotFoundError("000003.jpg: image file not found")
        return np.full((2, 2, 3), i, np.uint8)

    def detector(frames):
        seen.append(int(frames[0][0, 0, 0]))
        return [_dets(seen[-1])]

    runner = DetectorFrames(FrameRunner(detector, load, clock=clock))
    run = simulate_sequence(runner, num_frames=10, fps=30, latency=parse_latency("fixed:0.05"))
    # picks 0, 1, 3 (unreadable: no output, no detector call, still takes its time), 4, 6, 7, 9
    assert seen == [0, 1, 4, 6, 7, 9]
    assert [o.frame_index for o in run.outputs] == seen
    assert run.skipped_frames == 1 and runner.bad_frames == ["frame 3: 000003.jpg: image file not found"]
    assert run.measured[:2] == pytest.approx([0.02, 0.02])


def test_measured_latency_uses_the_measurement_and_perf_factor():
    cache = CachedFrames([_dets(i) for i in range(10)], runtimes=[0.1] * 10)
    run = simulate_sequence(cache, num_frames=10, fps=30, latency=parse_latency("measured", perf_factor=2.0))
    assert [o.runtime for o in run.outputs] == [0.05] * len(run.outputs)
    assert [o.frame_index for o in run.outputs] == [0, 1, 3, 4, 6, 7, 9]
    with pytest.raises(ValueError, match="measured"):
        simulate_sequence(CachedFrames([_dets(0)]), num_frames=1, fps=30, latency=parse_latency("measured"))


def test_offline_outputs_skip_missing_frames():
    outs = offline_outputs([_dets(0), None, _dets(2)], 30.0)
    assert [(o.frame_index, o.t_done) for o in outs] == [(0, 0.0), (2, 2 / 30)]
