"""Recording a live session: every frame the receiver accepts, for replay through the simulator.

    python -m streaming.live --model M --record --out runs/live
    python -m streaming.run --data runs/live/recording.mp4 --latency trace:runs/live/logs/live.jsonl

The receiver (streaming.zmq_io.ZmqFrameSource) calls its `on_frame(header, payload, arrived_s)`
hook once per valid frame message, also for frames the detector will never look at: a replay
must see the frames the live detector dropped, or it is not the same session. `SessionRecorder`
is that hook. It only queues the message; a writer thread decodes it and appends it to
`recording.mp4`, so recording costs the live loop no decoding or encoding time.

    recording.mp4   lossless (libx264rgb, crf 0: the exact BGR pixels), each frame's pts its
                    capture time relative to the first (90 kHz clock)
    recording.json  sidecar: {"schema": "yolox-streaming/recording", "version": 1, "video":
                    "recording.mp4", "fps": median capture rate, "frames": [{"index": sender's
                    frame_index, "t": capture time (s, as sent), "arrival_s": receiver clock,
                    relative to the first arrival}], "skipped": [reasons]}
The replay (data.video_dataset) takes the frame times from the sidecar, exactly as sent.
"""
from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import numpy as np

from data.video import VideoWriter
from data.video_dataset import RECORDING_SCHEMA, median_fps, sidecar_path


class CaptureTimes:
    """The lightest receiver hook: the capture times of the accepted frames (the feed's rate)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, header: dict, payload: bytes, arrived_s: float) -> None:
        self.times.append(float(header["t"]))

    @property
    def fps(self) -> float | None:
        return median_fps(self.times)


class SessionRecorder(CaptureTimes):
    """Receiver hook that stores every accepted frame (see the module docstring); `close()` writes
    the sidecar and returns its path."""

    def __init__(self, path: str | Path, *, nominal_fps: float = 30.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.nominal_fps = float(nominal_fps)
        self.frames: list[dict] = []
        self.skipped: list[str] = []
        self._queue: queue.Queue = queue.Queue()  # unbounded: the receiver must never block on disk
        self._writer: VideoWriter | None = None
        self._t0 = 0.0
        self._first_arrival: float | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="session-recorder", daemon=True)
        self._thread.start()

    def __call__(self, header: dict, payload: bytes, arrived_s: float) -> None:
        # The capture time is taken here, not by the writer thread: the live log's fps is read
        # from `times` before the recording is closed, while frames may still be queued.
        self.times.append(float(header["t"]))
        self._queue.put((header, payload, arrived_s))

    def _run(self) -> None:
        from streaming.zmq_io import MalformedMessage, decode_payload

        while (item := self._queue.get()) is not None:
            header, payload, arrived = item
            try:
                image = decode_payload(header, payload)
                self._write(header, image, arrived)
            except (MalformedMessage, ValueError) as e:  # one bad frame is counted, not fatal
                self.skipped.append(f"frame {header.get('frame_index')}: {e}")
            except BaseException as e:  # surfaced by close()
                self.error = e
                return

    def _write(self, header: dict, image: np.ndarray, arrived: float) -> None:
        t = float(header["t"])
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            self._writer = VideoWriter(self.path, self.nominal_fps, (w, h), timed=True, lossless=True)
            self._t0, self._first_arrival = t, arrived
        elif (image.shape[1], image.shape[0]) != self._writer.size:
            raise ValueError(f"size {image.shape[1]}x{image.shape[0]} differs from the recording's "
                             f"{self._writer.size[0]}x{self._writer.size[1]}")
        self._writer.write(image, t - self._t0)
        self.frames.append({"index": int(header["frame_index"]), "t": t,
                            "arrival_s": arrived - (self._first_arrival or 0.0)})

    def close(self) -> Path | None:
        """Finish writing (waits for the queue); the sidecar's path, None when nothing came."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._writer is not None:
            self._writer.close()
        if self.error is not None:
            raise OSError(f"{self.path}: recording failed ({self.error})") from self.error
        if self._writer is None:
            return None
        side = sidecar_path(self.path)
        side.write_text(json.dumps({
            "schema": RECORDING_SCHEMA, "version": 1, "video": self.path.name, "fps": self.fps,
            "frames": self.frames, "skipped": self.skipped,
        }, indent=None, separators=(",", ":")) + "\n")
        return side
