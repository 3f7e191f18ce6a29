"""A live feed's frame indices and capture times, checked message by message and split into segments.

A sender's header carries its own frame index and capture time. The receiver needs one
increasing stream index and one stream clock, whatever the sender does:

    index and time advance           same segment
    index goes back to 0, or index   sender restart: a new segment
      and time both go back
    index jumps > MAX_INDEX_JUMP     a new segment (a camera that skipped hours, or a sender
                                     that renumbers); the stream index stays contiguous
    index goes back, time does not   rejected ("index_decreasing")
    time goes back, index does not   rejected ("time_decreasing")

Each segment maps sender (index, t) linearly onto the stream: a segment starts at the next
free stream index (at least the frame the stream clock says it is) and at the stream time it
arrived, so the scheduler's `floor(t * fps)` rules keep working across a restart. Without the
split, one frame_index of 1e15 (or a restart at 0) would make every later frame "older" than
the last one and the receiver would ignore them all. Pure: the caller passes arrival times.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from streaming.scheduler import frame_at
from streaming.wire import MalformedMessage

MAX_INDEX_JUMP = 10_000  # 5.5 minutes at 30 FPS
MAX_SEGMENTS_RECORDED = 1000  # the log meta keeps this many; the count is always exact


@dataclass
class Segment:
    reason: str  # "start" | "restart" | "index_jump"
    sender_index0: int  # the sender's index and time of the segment's first frame
    sender_t0_s: float
    stream_index0: int  # where that frame lands on the stream
    stream_t0_s: float
    last_sender_index: int
    last_sender_t_s: float
    frames: int = 1

    @property
    def duration_s(self) -> float:
        return self.last_sender_t_s - self.sender_t0_s


class FeedTracker:
    """Admits (sender index, capture time) pairs in arrival order; see the module docstring."""

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)
        self.segments: list[Segment] = []
        self.num_segments = 0
        self._current: Segment | None = None
        self._last_stream_index = -1
        self._last_stream_t = 0.0

    def admit(self, index: int, t: float, arrived_stream_t: float | None) -> tuple[int, float]:
        """(stream index, stream time) of a frame, or MalformedMessage; `arrived_stream_t` is
        the stream clock at arrival (None before the clock is anchored, i.e. the first frame)."""
        seg = self._current
        if seg is None:
            return self._start("start", index, t, float(t), index)
        if index < seg.last_sender_index and (index == 0 or t < seg.last_sender_t_s):
            reason = "restart"
        elif index < seg.last_sender_index:
            raise MalformedMessage("index_decreasing",
                                   f"frame_index {index} after {seg.last_sender_index} with time not going back")
        elif t < seg.last_sender_t_s:
            raise MalformedMessage("time_decreasing", f"capture time {t!r} after {seg.last_sender_t_s!r}")
        elif index - seg.last_sender_index > MAX_INDEX_JUMP:
            reason = "index_jump"
        else:
            seg.last_sender_index, seg.last_sender_t_s = index, float(t)
            seg.frames += 1
            return self._place(seg, index, t)
        now = self._last_stream_t if arrived_stream_t is None else max(arrived_stream_t, self._last_stream_t)
        first = max(self._last_stream_index + 1, frame_at(now, self.fps))
        return self._start(reason, index, t, now, first)

    def _start(self, reason: str, index: int, t: float, stream_t: float, stream_index: int) -> tuple[int, float]:
        seg = Segment(reason, index, float(t), stream_index, stream_t, index, float(t))
        self._current = seg
        self.num_segments += 1
        if len(self.segments) < MAX_SEGMENTS_RECORDED:
            self.segments.append(seg)
        return self._place(seg, index, t)

    def _place(self, seg: Segment, index: int, t: float) -> tuple[int, float]:
        stream_index = seg.stream_index0 + (index - seg.sender_index0)
        stream_t = seg.stream_t0_s + (float(t) - seg.sender_t0_s)
        self._last_stream_index = max(self._last_stream_index, stream_index)
        self._last_stream_t = max(self._last_stream_t, stream_t)
        return stream_index, stream_t

    @property
    def last_stream_index(self) -> int:
        return self._last_stream_index

    def feed_fps(self) -> float | None:
        """Frames per second of capture time over all segments (None before two frames)."""
        frames = sum(s.frames - 1 for s in self.segments)
        duration = sum(s.duration_s for s in self.segments)
        return frames / duration if frames and duration > 0 else None

    def meta(self) -> dict:
        """For the stream log's meta: every recorded segment and the measured feed rate."""
        return {"segments": [asdict(s) for s in self.segments], "num_segments": self.num_segments,
                "feed_fps": self.feed_fps()}
