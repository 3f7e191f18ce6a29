"""Which frame the detector takes, and when: the sAP toolkit's streaming rules as pure functions.

Frame i arrives at i / fps. When the detector becomes free at time t it takes the latest
arrived frame floor(t * fps) (frames that arrived meanwhile are dropped); if that frame was
already processed it waits for the next frame. The stream ends after its last frame: nothing
starts once the detector is free at or after num_frames / fps.

Policies:
    greedy          always start on the latest frame as soon as the detector is free.
    shrinking-tail  with r the mean runtime in frames (the latency model's mean when it is known
                    up front, as in the sAP toolkit; else the running mean of the runs so far)
                    and f the fractional phase of
                    the free time within its frame interval, wait for the next frame when
                    r >= 1 and r < floor(f + r): the output would then land in the same frame
                    interval anyway, so waiting buys a fresher frame for free.

Everything works in integer frame indices plus float times; frame positions are guarded
with FRAME_EPS so that times like 3 * (1/30) count as frame 3, not 2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

FRAME_EPS = 1e-9  # in frame units; the single tolerance for "time t has reached frame i"
POLICIES = ("greedy", "shrinking-tail")
# exact: frame positions guarded by FRAME_EPS, so a runtime of exactly 0.1 s at 30 FPS ends at
#        frame 3. toolkit: the sAP toolkit's own arithmetic (time accumulated as a float sum,
#        floor without tolerance, outputs finishing at or after the end dropped, pairing on raw
#        times), so 8 x 0.1 s = 0.7999999999999999 s lands before frame 24, as published
#        fixed-latency numbers were computed. Measured runtimes never tie; the modes then agree.
TIMING_MODES = ("exact", "toolkit")


class SchedulerError(ValueError):
    pass


def check_eta(eta: float) -> float:
    """The sAP toolkit's query shift: finite and >= -1 (at most one frame into the future)."""
    if not isinstance(eta, (int, float)) or isinstance(eta, bool) or not math.isfinite(eta) or eta < -1:
        raise ValueError(f"must be a finite number >= -1 (frames; the sAP toolkit's sign), got {eta!r}")
    return float(eta)


def frame_at(t: float, fps: float) -> int:
    """Index of the latest frame arrived by time t (may be past the end of a sequence)."""
    return math.floor(t * fps + FRAME_EPS)


def frame_phase(position: float) -> float:
    """Fractional part of a continuous frame position, guarded so k - 1e-12 counts as phase 0."""
    return max(position - math.floor(position + FRAME_EPS), 0.0)


def shrinking_tail_waits(position: float, mean_runtime_frames: float) -> bool:
    """True when a detector free at frame position `position` should wait for the next frame."""
    r = mean_runtime_frames
    if r < 1.0:
        return False
    return r < math.floor(frame_phase(position) + r + FRAME_EPS)


@dataclass(frozen=True)
class Job:
    """One detector call: the frame it took, when it started and finished (seconds)."""

    frame_index: int
    t_start: float
    t_done: float
    runtime: float


class Scheduler:
    """Stateful frame picker for one sequence; `next_job` then `finished` per detector call."""

    def __init__(self, *, fps: float, num_frames: int | None, policy: str = "greedy",
                 expected_runtime: float | None = None) -> None:
        if policy not in POLICIES:
            raise SchedulerError(f"unknown scheduling policy {policy!r}: use one of {', '.join(POLICIES)}")
        if not fps > 0:
            raise SchedulerError(f"fps must be positive, got {fps!r}")
        self.fps = float(fps)
        self.num_frames = num_frames  # None: an open-ended live stream
        self.policy = policy
        self.expected_runtime = expected_runtime  # seconds; None = use the running mean
        self.last_frame = -1
        self._runtime_frames_sum = 0.0
        self._count = 0

    @property
    def mean_runtime_frames(self) -> float:
        if self.expected_runtime is not None:
            return self.expected_runtime * self.fps
        return self._runtime_frames_sum / self._count if self._count else 0.0

    def _exists(self, index: int) -> bool:
        return self.num_frames is None or index < self.num_frames

    def next_job(self, t_free: float) -> tuple[int, float] | None:
        """(frame_index, t_start) for a detector free at t_free, or None when the stream is over."""
        latest = frame_at(t_free, self.fps)
        if not self._exists(latest):
            return None
        wait = latest <= self.last_frame or (
            self.policy == "shrinking-tail"
            and (self._count > 0 or self.expected_runtime is not None)
            and shrinking_tail_waits(t_free * self.fps, self.mean_runtime_frames)
        )
        if not wait:
            return latest, t_free
        index = max(latest, self.last_frame) + 1
        if not self._exists(index):
            return None
        return index, index / self.fps

    def finished(self, frame_index: int, runtime: float) -> None:
        """Record a completed call so the next pick knows the frame is taken and the mean runtime."""
        if runtime < 0 or not math.isfinite(runtime):
            raise SchedulerError(f"runtime must be finite and >= 0, got {runtime!r}")
        self.last_frame = max(self.last_frame, frame_index)
        self._runtime_frames_sum += runtime * self.fps
        self._count += 1


def run_schedule(
    process: Callable[[int], float], *, fps: float, num_frames: int, policy: str = "greedy",
    expected_runtime: float | None = None, timing: str = "exact",
) -> list[Job]:
    """Simulated timeline: `process(frame_index)` runs the frame and returns its runtime (s).

    Time starts at 0 with frame 0 arriving; each call starts when the detector is free.
    """
    if timing not in TIMING_MODES:
        raise SchedulerError(f"unknown timing mode {timing!r}: use one of {', '.join(TIMING_MODES)}")
    if timing == "toolkit":
        return run_schedule_toolkit(process, fps=fps, num_frames=num_frames, policy=policy,
                                    expected_runtime=expected_runtime)
    scheduler = Scheduler(fps=fps, num_frames=num_frames, policy=policy, expected_runtime=expected_runtime)
    jobs: list[Job] = []
    t = 0.0
    while True:
        picked = scheduler.next_job(t)
        if picked is None:
            return jobs
        index, t_start = picked
        runtime = float(process(index))
        scheduler.finished(index, runtime)
        t = t_start + runtime
        jobs.append(Job(index, t_start, t, runtime))


def run_schedule_toolkit(
    process: Callable[[int], float], *, fps: float, num_frames: int, policy: str = "greedy",
    expected_runtime: float | None = None,
) -> list[Job]:
    """The same rules in the sAP toolkit's floating-point arithmetic (timing mode "toolkit").

    The clock is one float that each runtime is added to; the latest frame is floor(t * fps)
    with no tolerance; a detector free on a frame it already took jumps to the next frame's
    arrival; shrinking-tail compares against the fractional position before that jump and, when
    it waits, re-enters the loop (which then takes the next frame); an output finishing at or
    after the end of the sequence (num_frames / fps) is dropped, and the run stops there.
    """
    if policy not in POLICIES:
        raise SchedulerError(f"unknown scheduling policy {policy!r}: use one of {', '.join(POLICIES)}")
    if not fps > 0:
        raise SchedulerError(f"fps must be positive, got {fps!r}")
    t_end = num_frames / fps
    mean_frames = None if expected_runtime is None else expected_runtime * fps
    runtime_sum, count = 0.0, 0
    jobs: list[Job] = []
    t, last = 0.0, None
    while t < t_end:
        position = t * fps
        index = math.floor(position)
        if index == last:  # already taken: idle until the next frame arrives
            index += 1
            if index == num_frames:
                break
            t = index / fps
        last = index
        r = mean_frames if mean_frames is not None else (runtime_sum / count if count else 0.0)
        if policy == "shrinking-tail" and (mean_frames is not None or count) and r > 1:
            if r < math.floor(position - index + r):
                continue
        runtime = float(process(index))
        if runtime < 0 or not math.isfinite(runtime):
            raise SchedulerError(f"runtime must be finite and >= 0, got {runtime!r}")
        runtime_sum, count = runtime_sum + runtime * fps, count + 1
        t_start, t = t, t + runtime
        if t >= t_end:
            break
        jobs.append(Job(index, t_start, t, runtime))
    return jobs
