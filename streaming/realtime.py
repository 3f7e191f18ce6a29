"""The wall-clock runner: the simulator's Scheduler, asked at the times of a real clock.

The detector is called for real (through a FrameRunner); frames arrive from a FrameSource at
their timestamps. Whenever the detector is free at stream time `now`, the runner asks
`Scheduler.next_job(now)` which frame to take and from when on, exactly as the simulator does,
so greedy and shrinking-tail are written once (streaming/scheduler.py). The source then waits
until that frame has arrived and hands over it or, if the runner fell behind, a newer one. The
result has the simulator's format, so logs and evaluation are shared.

Shrinking-tail uses the running mean of the measured runtimes: a wall-clock run knows no
runtime distribution up front. Time comes from the source's clock and the runner's clock,
both injectable, so tests can drive the rules on a fake clock.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable

from detector.runner import FrameRunner
from streaming.log import StreamOutput
from streaming.scheduler import Scheduler
from streaming.sources import FrameSource


@dataclass(frozen=True)
class Throughput:
    """What a wall-clock run achieved: `processed` of `offered` frames in `wall_s` seconds, from the
    first frame taken to the last result. Keeping up with the feed means processing every frame:
    `processed_fps` >= the feed's rate (no drops)."""

    processed: int
    offered: int
    wall_s: float

    @property
    def processed_fps(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def dropped(self) -> int:
        return max(self.offered - self.processed, 0)

    def keeps_up(self) -> bool:
        return self.processed > 0 and self.dropped == 0

    def to_dict(self, fps: float) -> dict:
        return {"processed": self.processed, "offered": self.offered, "dropped": self.dropped,
                "wall_s": self.wall_s, "processed_fps": self.processed_fps, "feed_fps": fps,
                "keeps_up": self.keeps_up()}


def throughput(outputs: Sequence[StreamOutput], offered: int) -> Throughput:
    """Throughput of a run's outputs (stream times, seconds); `offered` frames arrived meanwhile."""
    if not outputs:
        return Throughput(0, offered, 0.0)
    wall = max(o.t_done for o in outputs) - min(o.t_start for o in outputs)
    return Throughput(len(outputs), offered, float(wall))


@dataclass
class RealtimeRun:
    outputs: list[StreamOutput]
    measured: list[float]  # runtime of every detector call, also of frames the detector rejected
    bad_frames: list[str] = field(default_factory=list)  # the runner's: unreadable or rejected frames
    last_frame_seen: int = -1

    @property
    def num_frames(self) -> int:
        return self.last_frame_seen + 1

    @property
    def throughput(self) -> Throughput:
        return throughput(self.outputs, self.num_frames)


def run_realtime(
    source: FrameSource,
    runner: FrameRunner,
    *,
    policy: str = "greedy",
    idle_timeout: float = 5.0,
    max_frames: int | None = None,
    on_output: Callable[[StreamOutput], None] | None = None,
) -> RealtimeRun:
    """Run `runner` on a live or replayed source until it ends (or `idle_timeout` passes with
    no new frame, or `max_frames` frames have been processed). Runtimes are never scaled: this
    is the hardware you have."""
    # Open-ended: the source, not the scheduler, says when the stream is over.
    scheduler = Scheduler(fps=source.fps, num_frames=None, policy=policy)
    run = RealtimeRun(outputs=[], measured=[], bad_frames=runner.bad_frames)
    source.start()
    try:
        while max_frames is None or len(run.measured) < max_frames:
            picked = scheduler.next_job(source.now())
            if picked is None:  # never for an open-ended stream; kept for the type
                break
            index, _ = picked
            # The source waits until frame `index` has arrived (its t_start) and returns it or
            # a newer one: the newest arrived frame after index - 1. Greedy needs no index from
            # the clock: it takes the newest frame after the last one processed, so a live feed
            # whose real rate differs from the nominal fps is not waited for (the index from
            # floor(now * fps) would run ahead of a slower feed and wait ever longer).
            after = scheduler.last_frame if policy == "greedy" else index - 1
            frame = source.next_after(after, idle_timeout)
            if frame is None:
                break
            run.last_frame_seen = max(run.last_frame_seen, frame.index)
            t_start = source.now()
            result = runner.run_image(frame.index, frame.image)
            t_done = t_start + result.runtime_s
            run.measured.append(result.runtime_s)
            scheduler.finished(frame.index, result.runtime_s)
            if result.detections is not None:
                out = StreamOutput(t_start, t_done, frame.index, result.runtime_s, result.detections)
                run.outputs.append(out)
                if on_output is not None:
                    on_output(out)
    finally:
        source.close()
    return run
