"""The wall-clock runner: the simulator's scheduling rules against time.perf_counter.

The detector is called for real; frames arrive from a FrameSource at their timestamps, and
when the detector becomes free it takes the newest arrived frame (waiting if it already did
that one). Shrinking-tail uses the same decision function as the simulator, on the measured
running mean runtime. The result has the simulator's format, so logs and evaluation are shared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from data.detections import Detections
from streaming.log import StreamOutput
from streaming.scheduler import POLICIES, Scheduler, SchedulerError, shrinking_tail_waits
from streaming.sources import FrameSource


@dataclass
class RealtimeRun:
    outputs: list[StreamOutput]
    measured: list[float]
    failed_frames: list[str] = field(default_factory=list)
    last_frame_seen: int = -1

    @property
    def num_frames(self) -> int:
        return self.last_frame_seen + 1


def run_realtime(
    source: FrameSource,
    detector: Callable[[list[np.ndarray]], list[Detections]],
    *,
    policy: str = "greedy",
    idle_timeout: float = 5.0,
    max_frames: int | None = None,
    on_output: Callable[[StreamOutput], None] | None = None,
) -> RealtimeRun:
    """Run `detector` on a live or replayed source until it ends (or `idle_timeout` passes with
    no new frame, or `max_frames` frames have been processed). Runtimes are never scaled: this
    is the hardware you have."""
    if policy not in POLICIES:
        raise SchedulerError(f"unknown scheduling policy {policy!r}: use one of {', '.join(POLICIES)}")
    book = Scheduler(fps=source.fps, num_frames=None, policy=policy)  # running mean only
    run = RealtimeRun(outputs=[], measured=[])
    last = -1
    source.start()
    try:
        while max_frames is None or len(run.measured) < max_frames:
            frame = source.next_after(last, idle_timeout)
            if frame is None:
                break
            run.last_frame_seen = max(run.last_frame_seen, frame.index)
            if (
                policy == "shrinking-tail"
                and book.mean_runtime_frames > 0
                and shrinking_tail_waits(source.now() * source.fps, book.mean_runtime_frames)
            ):
                newer = source.next_after(frame.index, idle_timeout)
                if newer is None:
                    break
                frame = newer
                run.last_frame_seen = max(run.last_frame_seen, frame.index)
            t_start = source.now()
            try:
                dets = detector([frame.image])[0]
            except (ValueError, OSError) as e:
                # A frame the backend rejects (wrong shape, corrupt data) is skipped, not fatal.
                run.failed_frames.append(f"frame {frame.index}: {e}")
                dets = None
            t_done = source.now()
            runtime = t_done - t_start
            run.measured.append(runtime)
            book.finished(frame.index, runtime)
            last = frame.index
            if dets is not None:
                out = StreamOutput(t_start, t_done, frame.index, runtime, dets)
                run.outputs.append(out)
                if on_output is not None:
                    on_output(out)
    finally:
        source.close()
    return run

