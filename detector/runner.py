"""The one frame runner: load a frame, time the detector call, skip and count what cannot be read.

Every path that feeds frames to a detector goes through `FrameRunner`: the simulator's
every-frame pass and on-demand calls, the wall-clock runner, the live receiver, prediction and
offline evaluation. A frame that cannot be read (missing or corrupt file) or that the detector
rejects (wrong shape or dtype) is not fatal: it is recorded in `bad_frames` with its reason and
its result carries no detections, so long runs finish and say what they skipped.

Loading is not part of the timed call: `runtime_s` is the detector alone, as the streaming
benchmark's latency is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from data.detections import Detections

Detect = Callable[[Sequence[np.ndarray]], list[Detections]]
# Failures of one frame that a run survives; anything else is a bug and propagates.
FRAME_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)


def is_stateful(detector: object) -> bool:
    """Whether the detector carries state between frames (StreamYOLO's feature buffer)."""
    return bool(getattr(detector, "stateful", False) or getattr(getattr(detector, "backend", None), "stateful", False))


def reset_stream(detector: object) -> None:
    """Start a new stream: a stateful detector forgets the frames before (its `reset()`); a
    stateless one is untouched. Every loop over sequences calls it before each pass, so one
    sequence's last frame is never fused with the next sequence's first."""
    reset = getattr(detector, "reset", None)
    if callable(reset):
        reset()


@dataclass(frozen=True)
class FrameResult:
    """One detector call (or the attempt): `detections` is None when the frame was skipped."""

    index: int
    detections: Detections | None
    runtime_s: float  # wall time of the detector call; 0.0 when the frame could not be loaded
    error: str | None = None


@dataclass
class FrameRunner:
    """Runs `detector([frame])` on frames by index (`load_frame`) or on frames already in memory."""

    detector: Detect
    load_frame: Callable[[int], np.ndarray] | None = None
    clock: Callable[[], float] = time.perf_counter
    bad_frames: list[str] = field(default_factory=list)

    def load(self, index: int) -> np.ndarray | None:
        """The frame, or None (counted in `bad_frames`) when it cannot be read."""
        if self.load_frame is None:
            raise TypeError("FrameRunner.load needs load_frame")
        try:
            return self.load_frame(index)
        except FRAME_ERRORS as e:
            self._skip(index, e)
            return None

    def __call__(self, index: int) -> FrameResult:
        image = self.load(index)
        if image is None:
            return FrameResult(index, None, 0.0, self.bad_frames[-1])
        return self.run_image(index, image)

    def run_image(self, index: int, image: np.ndarray) -> FrameResult:
        """Time one call on an in-memory frame; a frame the detector rejects is skipped."""
        start = self.clock()
        try:
            dets = self.detector([image])[0]
        except FRAME_ERRORS as e:
            runtime = self.clock() - start
            self._skip(index, e)
            return FrameResult(index, None, runtime, self.bad_frames[-1])
        return FrameResult(index, dets, self.clock() - start)

    def run_batch(self, indices: Sequence[int]) -> list[FrameResult]:
        """Load several frames and run them as one batch (offline evaluation, prediction); the
        batch's runtime is shared equally by its frames."""
        loaded = [(i, img) for i in indices if (img := self.load(i)) is not None]
        if not loaded:
            return [FrameResult(i, None, 0.0, "unreadable") for i in indices]
        start = self.clock()
        dets = self.detector([img for _, img in loaded])
        each = (self.clock() - start) / len(loaded)
        by_index = {i: d for (i, _), d in zip(loaded, dets)}
        return [FrameResult(i, by_index[i], each) if i in by_index else FrameResult(i, None, 0.0, "unreadable")
                for i in indices]

    def _skip(self, index: int, error: BaseException) -> None:
        self.bad_frames.append(f"frame {index}: {error}")
