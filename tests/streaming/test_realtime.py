"""The wall-clock runner: exact timelines on an injected fake clock, and a threaded source on
the real one (loose timing only there)."""
from __future__ import annotations

import numpy as np
import pytest

from data.detections import Detections
from detector.runner import FrameRunner
from streaming.realtime import run_realtime
from streaming.scheduler import SchedulerError, run_schedule
from streaming.sources import ReplaySource, ThreadedSource


class FakeClock:
    """Stream time that moves only when the source sleeps or the detector 'computes'."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def _frame(i: int) -> np.ndarray:
    img = np.zeros((8, 8, 3), np.uint8)
    img[0, 0, 0] = i
    return img


def _detector(clock: FakeClock, runtime_s: float, fail_on: int = -1):
    def detect(frames):
        index = int(frames[0][0, 0, 0])
        clock.sleep(runtime_s)  # the call takes runtime_s of stream time
        if index == fail_on:
            raise ValueError("backend rejected the frame")
        return [Detections(np.array([[0, 0, 4, 4]]), np.array([0.5]), np.array([index % 8]))]

    return detect


def _replay(runtime_s: float, *, num_frames: int, fps: float, load=_frame, policy="greedy", **kwargs):
    """run_realtime on a ReplaySource, everything on one fake clock; returns (run, runner, loaded)."""
    clock = FakeClock()
    loaded: list[int] = []

    def load_frame(i):
        loaded.append(i)
        return load(i)

    runner = FrameRunner(_detector(clock, runtime_s, kwargs.pop("fail_on", -1)), load_frame, clock=clock.now)
    source = ReplaySource(runner.load, num_frames=num_frames, fps=fps, clock=clock.now, sleep=clock.sleep)
    return run_realtime(source, runner, policy=policy, **kwargs), runner, loaded


# fps 4 and 0.375 s (1.5 frame intervals) are exact binary fractions: no rounding in the timeline.
FPS, RUNTIME, N = 4.0, 0.375, 10


def test_greedy_takes_the_latest_frame_when_free():
    run, _, loaded = _replay(RUNTIME, num_frames=N, fps=FPS)
    # free at 0, 1.5, 3, 4.5, 6, 7.5, 9, 10.5 frames: the latest arrived frame each time
    assert [o.frame_index for o in run.outputs] == [0, 1, 3, 4, 6, 7, 9]
    assert [o.t_start * FPS for o in run.outputs] == [0, 1.5, 3, 4.5, 6, 7.5, 9]
    assert [o.t_done * FPS for o in run.outputs] == [1.5, 3, 4.5, 6, 7.5, 9, 10.5]
    assert loaded == [o.frame_index for o in run.outputs]  # only taken frames are read
    assert run.measured == [RUNTIME] * 7
    assert [int(o.detections.labels[0]) for o in run.outputs] == [o.frame_index % 8 for o in run.outputs]


def test_shrinking_tail_waits_for_the_next_frame_in_wall_clock_mode():
    run, _, _ = _replay(RUNTIME, num_frames=N, fps=FPS, policy="shrinking-tail")
    # After frame 0 the mean runtime is 1.5 frames; free at phase 0.5, floor(0.5 + 1.5) = 2 > 1.5:
    # waiting half a frame lands in the same interval with a fresher frame. Greedy would take
    # 1, 3, 4, ... instead.
    assert [o.frame_index for o in run.outputs] == [0, 2, 4, 6, 8]
    assert [o.t_start * FPS for o in run.outputs] == [0, 2, 4, 6, 8]
    # the same rules as the simulator, on the same timeline
    simulated = run_schedule(lambda i: RUNTIME, fps=FPS, num_frames=N, policy="shrinking-tail")
    assert [(o.frame_index, o.t_start, o.t_done) for o in run.outputs] == \
        [(j.frame_index, j.t_start, j.t_done) for j in simulated]


def test_fast_detector_waits_for_each_frame():
    run, _, _ = _replay(0.0, num_frames=N, fps=FPS)
    assert [o.frame_index for o in run.outputs] == list(range(N))
    assert [o.t_start * FPS for o in run.outputs] == list(range(N))


def test_unreadable_frame_is_skipped_and_counted_once():
    def load(i):
        if i == 3:
            raise ValueError("000003.jpg: cannot decode image")
        return _frame(i)

    run, runner, _ = _replay(RUNTIME, num_frames=N, fps=FPS, load=load)
    # free at 3 frames: frame 3 is unreadable, so the source waits for frame 4 (starts at 4)
    assert [o.frame_index for o in run.outputs] == [0, 1, 4, 5, 7, 8]
    assert [o.t_start * FPS for o in run.outputs] == [0, 1.5, 4, 5.5, 7, 8.5]
    assert runner.bad_frames == run.bad_frames == ["frame 3: 000003.jpg: cannot decode image"]


def test_rejected_frame_takes_its_time_but_gives_no_output():
    run, _, _ = _replay(RUNTIME, num_frames=N, fps=FPS, fail_on=3)
    assert [o.frame_index for o in run.outputs] == [0, 1, 4, 6, 7, 9]
    assert len(run.measured) == 7 and run.bad_frames == ["frame 3: backend rejected the frame"]


def test_max_frames_and_bad_policy():
    run, _, _ = _replay(0.0, num_frames=50, fps=FPS, max_frames=3)
    assert [o.frame_index for o in run.outputs] == [0, 1, 2]
    with pytest.raises(SchedulerError, match="policy"):
        _replay(0.0, num_frames=5, fps=FPS, policy="eager")


def test_threaded_source_and_rejected_frames():
    """Real clock and a real release thread: only the stream rules are checked, not timings."""
    import time

    def detect(frames):
        index = int(frames[0][0, 0, 0])
        time.sleep(0.001)
        if index == 4:
            raise ValueError("backend rejected the frame")
        return [Detections(np.array([[0, 0, 4, 4]]), np.array([0.5]), np.array([index % 8]))]

    source = ThreadedSource((_frame(i) for i in range(20)), fps=100.0)
    run = run_realtime(source, FrameRunner(detect), policy="greedy", idle_timeout=2.0)
    idx = [o.frame_index for o in run.outputs]
    assert idx == sorted(set(idx)) and 4 not in idx and len(idx) >= 10
    assert all(o.t_start >= prev.t_done for prev, o in zip(run.outputs, run.outputs[1:]))
    assert run.bad_frames in ([], ["frame 4: backend rejected the frame"])  # 4 may have been dropped
    assert source.error is None


def test_threaded_source_passes_over_unreadable_frames():
    """A None item (a frame its loader could not read) is never handed out: the newest frame is
    the newest readable one, and a stream of only unreadable frames ends with nothing."""
    ticks = iter(range(10**6))
    clock = lambda: float(next(ticks))  # noqa: E731 - every frame is due as soon as it is read

    source = ThreadedSource(iter([_frame(0), _frame(1), None]), fps=30.0, clock=clock)
    source.start()
    source._thread.join(timeout=5.0)
    frame = source.next_after(-1, timeout=0.0)
    assert frame is not None and frame.index == 1 and int(frame.image[0, 0, 0]) == 1
    assert source.next_after(1, timeout=0.0) is None and source.error is None

    empty = ThreadedSource(iter([None, None]), fps=30.0, clock=clock)
    empty.start()
    empty._thread.join(timeout=5.0)
    assert empty.next_after(-1, timeout=0.0) is None and empty.error is None


def test_throughput_counts_processed_frames_over_the_wall_clock() -> None:
    from data.detections import Detections
    from streaming.log import StreamOutput
    from streaming.realtime import throughput

    outs = [StreamOutput(i / 30, i / 30 + 0.02, i, 0.02, Detections.empty()) for i in range(30)]
    tp = throughput(outs, 30)
    assert tp.processed == 30 and tp.dropped == 0 and tp.keeps_up()
    assert abs(tp.wall_s - (29 / 30 + 0.02)) < 1e-9 and abs(tp.processed_fps - 30 / tp.wall_s) < 1e-9
    slow = throughput(outs[::2], 30)  # every other frame: 15 dropped
    assert slow.dropped == 15 and not slow.keeps_up() and slow.processed_fps < 16
    assert throughput([], 5).processed_fps == 0.0 and not throughput([], 5).keeps_up()
    assert tp.to_dict(30.0)["keeps_up"] is True
