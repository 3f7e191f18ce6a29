"""Frame sources for the wall-clock runner: frames become available at their timestamps.

A source answers one question, `next_after(last, timeout)`: the newest frame that has arrived
with an index greater than `last`, waiting for one if none has; older arrived frames are
dropped. None means the stream is over (or nothing came within `timeout` seconds).

    ReplaySource    frames of a recorded sequence, frame i available from t0 + i / fps
                    (a time check; only the frames actually taken are loaded, through the
                    FrameRunner's `load`, which counts the unreadable ones). Single-threaded
                    and fully driven by an injectable clock: the wall-clock rules' exact timelines.
    ThreadedSource  any frame iterator (e.g. a decoded video) released at i / fps by a thread,
                    which decodes the next frame while the detector works on this one (as a
                    camera delivers decoded frames); a None item is an unreadable frame, passed
                    over (its loader counts it).
Times are on the stream clock: seconds since frame 0 arrived.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

import numpy as np

from streaming.scheduler import frame_at


@dataclass
class ArrivedFrame:
    index: int
    t: float  # arrival (capture) time on the stream clock
    image: np.ndarray


class FrameSource(Protocol):
    fps: float

    def start(self) -> None: ...
    def now(self) -> float: ...
    def next_after(self, last: int, timeout: float) -> ArrivedFrame | None: ...
    def close(self) -> None: ...


class ReplaySource:
    """A recorded sequence played at its frame rate against `clock`.

    `load(i)` returns frame i or None when it cannot be read (`FrameRunner.load` counts it in
    its `bad_frames`); an unreadable frame is passed over for the next one to arrive. `clock`
    and `sleep` are injectable so that tests can run the wall-clock rules on a fake clock.
    """

    def __init__(
        self,
        load: Callable[[int], np.ndarray | None],
        *,
        num_frames: int,
        fps: float,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.load = load
        self.num_frames = num_frames
        self.fps = float(fps)
        self.clock = clock
        self.sleep = sleep
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = self.clock()

    def now(self) -> float:
        if self._t0 is None:
            raise RuntimeError("ReplaySource.start() was not called")
        return self.clock() - self._t0

    def next_after(self, last: int, timeout: float = float("inf")) -> ArrivedFrame | None:
        deadline = self.now() + timeout
        while True:
            now = self.now()
            latest = frame_at(now, self.fps)
            if latest >= self.num_frames:
                return None  # the sequence is over, as in the simulation
            if latest > last:
                image = self.load(latest)
                if image is not None:
                    return ArrivedFrame(latest, latest / self.fps, image)
                last = latest  # unreadable (counted by the loader): wait for the next frame
                continue
            if last + 1 >= self.num_frames:
                return None
            wake = (last + 1) / self.fps
            if wake > deadline:
                self.sleep(max(deadline - now, 0.0))
                return None
            self.sleep(max(wake - now, 0.0))

    def close(self) -> None:
        pass


class ThreadedSource:
    """Releases frames from an iterator at i / fps in a background thread, keeping the newest."""

    def __init__(self, frames: Iterable[np.ndarray], *, fps: float,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.fps = float(fps)
        self.clock = clock
        self._frames = frames
        self._cond = threading.Condition()
        self._latest: ArrivedFrame | None = None
        self._done = False
        self._stop = threading.Event()
        self._t0: float | None = None
        self._thread = threading.Thread(target=self._run, name="frame-release", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._t0 = self.clock()
        self._thread.start()

    def now(self) -> float:
        if self._t0 is None:
            raise RuntimeError("ThreadedSource.start() was not called")
        return self.clock() - self._t0

    def _run(self) -> None:
        try:
            for index, image in enumerate(self._frames):
                if image is None:
                    continue
                t = index / self.fps
                # Decoding may run ahead; the frame is only "arrived" at its timestamp.
                while not self._stop.is_set() and self.now() < t:
                    self._stop.wait(min(t - self.now(), 0.05))
                if self._stop.is_set():
                    break
                with self._cond:
                    self._latest = ArrivedFrame(index, t, image)
                    self._cond.notify_all()
        except BaseException as e:  # surfaced to the caller through .error
            self.error = e
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def next_after(self, last: int, timeout: float = float("inf")) -> ArrivedFrame | None:
        deadline = self.clock() + timeout
        with self._cond:
            while self._latest is None or self._latest.index <= last:
                remaining = deadline - self.clock()
                if self._done or remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.1))
            return self._latest

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
