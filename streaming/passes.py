"""Frame passes: how one sequence's frames become stream outputs, one small object per mode.

    offline_pass     every frame once (zero latency): offline AP, and the cache the simulated
                     pass replays.
    SimulatedPass    the timestamped simulator, on cached detections or on a live detector.
    RealtimePass     the wall-clock runner on the recorded frames, replayed by a ThreadedSource.
Every pass that runs the detector goes through one FrameRunner, whose `bad_frames` are the
pass's skipped frames; `build_stream_pass` picks the pass from the run's configuration, so the
sequence loop (streaming/session.py) never asks what kind of runner it holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from data.detections import Detections
from detector.runner import Detect, FrameRunner
from streaming.latency import LatencyModel
from streaming.log import StreamOutput
from streaming.realtime import run_realtime
from streaming.simulate import CachedFrames, DetectorFrames, FrameResult, simulate_sequence
from streaming.sources import ThreadedSource

OnFrame = Callable[[int], None]  # progress: the index of the latest frame handled


@dataclass
class OfflinePass:
    """Every frame's own detections (None: skipped) and the detector's runtime on it."""

    detections: list[Detections | None]
    runtimes: list[float]
    bad_frames: list[str]

    @property
    def measured(self) -> list[float]:
        """Runtimes of the frames that gave detections (the runtime profile of the run)."""
        return [r for r, d in zip(self.runtimes, self.detections) if d is not None]


def offline_pass(runner: FrameRunner, num_frames: int, *, on_frame: OnFrame | None = None) -> OfflinePass:
    """Every frame once through `runner`; unreadable or rejected frames are skipped and counted."""
    results = []
    for i in range(num_frames):
        results.append(runner(i))
        if on_frame is not None:
            on_frame(i)
    return OfflinePass([r.detections for r in results], [r.runtime_s for r in results], list(runner.bad_frames))


@dataclass
class SequenceStream:
    """What a pass produced for one sequence; `mode` goes into the log's meta."""

    outputs: list[StreamOutput]
    measured: list[float]  # the detector's runtimes during the pass (raw, before perf_factor)
    bad_frames: list[str]
    mode: str


class StreamPass(Protocol):
    def run(self, num_frames: int, on_frame: OnFrame) -> SequenceStream: ...


@dataclass
class SimulatedPass:
    """The simulator on `frames` (cached or live); `bad_frames` is the list that counts its skips."""

    frames: Callable[[int], FrameResult]
    bad_frames: list[str]
    fps: float
    latency: LatencyModel
    policy: str
    key: int  # seeds the latency model per sequence
    timing: str = "exact"  # streaming.scheduler.TIMING_MODES

    def run(self, num_frames: int, on_frame: OnFrame) -> SequenceStream:
        sim = simulate_sequence(self.frames, num_frames=num_frames, fps=self.fps, latency=self.latency,
                                policy=self.policy, key=self.key, on_job=on_frame, timing=self.timing)
        return SequenceStream(sim.outputs, sim.measured, list(self.bad_frames), "simulated")


@dataclass
class RealtimePass:
    """The wall-clock runner on the recorded frames replayed at `fps`. Every frame is read in
    the source's thread as it comes due, off the detector's critical path as a camera's decoding
    is (reading on demand in the runner's thread cost YOLOX-S 384x640 ~2.3 ms of its 33 ms
    budget per frame); it reads through the same runner, so unreadable and rejected frames are
    counted in one place."""

    runner: FrameRunner
    fps: float
    policy: str

    def run(self, num_frames: int, on_frame: OnFrame) -> SequenceStream:
        source = ThreadedSource((self.runner.load(i) for i in range(num_frames)), fps=self.fps)
        run = run_realtime(source, self.runner, policy=self.policy, on_output=lambda o: on_frame(o.frame_index))
        if source.error is not None:  # not an unreadable frame (the runner counts those): a bug
            raise source.error
        return SequenceStream(run.outputs, run.measured, list(self.runner.bad_frames), "realtime")


def build_stream_pass(
    detector: Detect,
    load_frame: Callable[[int], np.ndarray],
    *,
    fps: float,
    latency: LatencyModel,
    policy: str,
    key: int,
    realtime: bool,
    cache: OfflinePass | None,
    timing: str = "exact",
) -> StreamPass:
    """The pass of a run's mode: wall clock, simulation replaying the offline pass's detections
    (and measured runtimes), or simulation calling the detector on the frames it picks."""
    if realtime:
        return RealtimePass(FrameRunner(detector, load_frame), fps, policy)
    if cache is not None:
        return SimulatedPass(CachedFrames(cache.detections, cache.runtimes), cache.bad_frames,
                             fps, latency, policy, key, timing)
    frames = DetectorFrames(FrameRunner(detector, load_frame))
    return SimulatedPass(frames, frames.bad_frames, fps, latency, policy, key, timing)
