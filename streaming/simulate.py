"""Timestamped streaming simulation: which frames a detector processes and when its outputs land.

A frame runner turns a frame index into `(detections, measured_seconds)`:
    CachedFrames     per-frame detections (and optionally runtimes) computed beforehand, e.g.
                     by an offline pass; dropped frames cost nothing.
    DetectorFrames   runs a real detector on the frames the scheduler picks, through a
                     FrameRunner (load, time the call, skip and count an unreadable frame).
The latency model turns the measurement into the simulated runtime, so fixed and profile
latencies give the same log for the same inputs and seed, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from data.detections import Detections
from detector.runner import FrameRunner
from streaming.latency import LatencyModel
from streaming.log import StreamOutput
from streaming.scheduler import run_schedule

# (detections or None for a frame that could not be read, measured seconds or None)
FrameResult = tuple["Detections | None", "float | None"]


@dataclass
class CachedFrames:
    """Replays precomputed detections; `runtimes` (seconds per frame) feed measured latency."""

    detections: Sequence[Detections | None]
    runtimes: Sequence[float] | None = None

    def __call__(self, index: int) -> FrameResult:
        measured = None if self.runtimes is None else float(self.runtimes[index])
        return self.detections[index], measured


@dataclass
class DetectorFrames:
    """Runs the detector on demand; an unreadable or rejected frame (counted in
    `runner.bad_frames`) has no detections and costs its measured time (0 when unreadable)."""

    runner: FrameRunner

    def __call__(self, index: int) -> FrameResult:
        result = self.runner(index)
        return result.detections, result.runtime_s

    @property
    def bad_frames(self) -> list[str]:
        return self.runner.bad_frames


@dataclass
class SequenceRun:
    outputs: list[StreamOutput]
    measured: list[float]  # raw measurements of the processed frames (before perf_factor)
    skipped_frames: int  # picked frames that could not be read or that the detector rejected


def simulate_sequence(
    run_frame: Callable[[int], FrameResult],
    *,
    num_frames: int,
    fps: float,
    latency: LatencyModel,
    policy: str = "greedy",
    key: int = 0,
    on_job: Callable[[int], None] | None = None,
    timing: str = "exact",
) -> SequenceRun:
    """Stream one sequence through the scheduler; `key` seeds the latency model per sequence.

    A frame that cannot be read still occupies the detector for its measured time (the
    attempt was made) but produces no output, so the previous output stays current.
    """
    latency.reset(key)
    results: list[tuple[int, Detections | None]] = []
    measured_all: list[float] = []

    def process(index: int) -> float:
        dets, measured = run_frame(index)
        if measured is not None:
            measured_all.append(measured)
        runtime = latency.runtime(measured)
        results.append((index, dets))
        if on_job is not None:
            on_job(index)
        return runtime

    jobs = run_schedule(process, fps=fps, num_frames=num_frames, policy=policy,
                        expected_runtime=latency.expected_runtime(), timing=timing)
    outputs = [
        StreamOutput(job.t_start, job.t_done, job.frame_index, job.runtime, dets)
        for job, (_, dets) in zip(jobs, results)
        if dets is not None
    ]
    skipped = sum(dets is None for _, dets in results)
    return SequenceRun(outputs=outputs, measured=measured_all, skipped_frames=skipped)


def offline_outputs(detections: Sequence[Detections | None], fps: float) -> list[StreamOutput]:
    """Zero-latency 'stream' where every frame has its own output at its arrival time."""
    return [
        StreamOutput(i / fps, i / fps, i, 0.0, dets)
        for i, dets in enumerate(detections)
        if dets is not None
    ]
