"""Live frames over ZeroMQ: a receiving FrameSource and the matching sender.

The wire format and its validation live in streaming/wire.py, the per-stream index and time
rules (segments, restarts) in streaming/feed.py. Malformed messages are skipped and counted by
reason; they never stop or stall the receiver and never count as received frames. Patterns:
PUSH/PULL (nothing lost) or PUB/SUB (late joiners miss frames, as a camera feed would).

    python -m streaming.zmq_io VIDEO --address tcp://127.0.0.1:5555 [--pattern push|pub] [--bind]
streams a video file (or an image folder) at its frame rate (or --fps).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any, Callable, Sequence

import numpy as np

from data.cli import run_command
from streaming.feed import FeedTracker
from streaming.sources import ArrivedFrame
from streaming.wire import (ENCODINGS, MAX_HEADER_BYTES, MAX_PIXELS, MalformedMessage, check_payload,
                            decode_payload, encode_frame, parse_header)

__all__ = ["ENCODINGS", "FrameSender", "MalformedMessage", "ZmqFrameSource", "decode_payload", "encode_frame",
           "endpoint", "parse_header", "stream_video"]

_SEND_PATTERNS = {"push": "PUSH", "pub": "PUB"}
_RECV_PATTERNS = {"pull": "PULL", "sub": "SUB"}
# ZeroMQ drops (and disconnects) a peer whose message exceeds this: no frame is bigger.
_MAX_MESSAGE_BYTES = MAX_PIXELS * 3 + MAX_HEADER_BYTES + 65536


def _socket(kind: str, address: str, bind: bool) -> Any:
    import zmq

    sock = zmq.Context.instance().socket(getattr(zmq, kind))
    sock.setsockopt(zmq.LINGER, 0)
    if kind in ("PULL", "SUB"):
        sock.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE_BYTES)
    if kind == "SUB":
        sock.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        if bind:
            sock.bind(address)
        else:
            sock.connect(address)
    except zmq.ZMQError as e:
        sock.close()
        raise OSError(f"{address}: cannot {'bind' if bind else 'connect'} ({e})") from None
    return sock


def endpoint(sock: Any) -> str:
    """The bound address (resolves a wildcard port such as tcp://127.0.0.1:*)."""
    import zmq

    return sock.getsockopt(zmq.LAST_ENDPOINT).decode()


class FrameSender:
    """Sends frames in the wire format; `with FrameSender(...) as s: s.send(img, t=..., frame_index=...)`."""

    def __init__(self, address: str, *, pattern: str = "push", bind: bool = False) -> None:
        if pattern not in _SEND_PATTERNS:
            raise ValueError(f"sender pattern must be one of {list(_SEND_PATTERNS)}, got {pattern!r}")
        self.socket = _socket(_SEND_PATTERNS[pattern], address, bind)
        self.endpoint = endpoint(self.socket) if bind else address

    def send(self, image: np.ndarray, *, t: float, frame_index: int, encoding: str = "raw") -> None:
        self.socket.send_multipart(encode_frame(image, t=t, frame_index=frame_index, encoding=encoding))

    def send_parts(self, parts: list[bytes]) -> None:
        self.socket.send_multipart(parts)

    def send_eos(self) -> None:
        self.socket.send_multipart([json.dumps({"eos": True}).encode()])

    def close(self, linger_s: float = 5.0) -> None:
        """Close after delivering what is still queued (up to `linger_s`): the sockets are made
        with LINGER 0, which would drop the last frames and the end-of-stream of a busy sender."""
        self.socket.close(linger=int(linger_s * 1000))

    def __enter__(self) -> "FrameSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZmqFrameSource:
    """FrameSource over ZeroMQ. The stream clock is the senders' capture clock, anchored when
    the first frame arrives; frame indices are the stream's (streaming/feed.py), equal to the
    sender's until it restarts or jumps.

    `next_after(last, timeout)` gives up when nothing at all has arrived for `timeout` seconds
    since the last message; before the first message it waits `startup_timeout` seconds from
    construction (default: until a sender appears), so a sender that starts late is not missed.
    """

    def __init__(self, address: str, *, fps: float, pattern: str = "pull", bind: bool = True,
                 clock: Callable[[], float] = time.perf_counter, max_reasons: int = 20,
                 startup_timeout: float = float("inf"),
                 on_frame: Callable[[dict, bytes, float], None] | None = None) -> None:
        if pattern not in _RECV_PATTERNS:
            raise ValueError(f"receiver pattern must be one of {list(_RECV_PATTERNS)}, got {pattern!r}")
        self.fps = float(fps)
        self.clock = clock
        self.socket = _socket(_RECV_PATTERNS[pattern], address, bind)
        self.endpoint = endpoint(self.socket) if bind else address
        self.rejected: Counter[str] = Counter()  # reason -> count
        self.malformed_reasons: list[str] = []  # the first `max_reasons` messages, for the user
        self.received = 0  # frames that passed every check (also those later dropped as old)
        self.ended = False
        self.feed = FeedTracker(self.fps)
        self._max_reasons = max_reasons
        self._offset: float | None = None
        self._created = clock()
        self._startup_timeout = startup_timeout
        self._last_message: float | None = None
        # Called with (header, payload, arrival clock time) for every valid frame, also the ones
        # the detector will skip: the session recorder (streaming/recorder.py) stores them all.
        self.on_frame = on_frame

    @property
    def malformed(self) -> int:
        return sum(self.rejected.values())

    def start(self) -> None:
        pass  # the socket is live from construction so no frame is missed before start

    def now(self) -> float:
        return 0.0 if self._offset is None else self.clock() - self._offset

    def _reject(self, error: MalformedMessage, where: str = "") -> None:
        self.rejected[error.reason] += 1
        if len(self.malformed_reasons) < self._max_reasons:
            self.malformed_reasons.append(f"{where}{error}")

    def _admit(self, parts: list[bytes], arrived: float) -> tuple[int, float, dict] | None:
        """Check one message; (stream index, stream time, header) of a frame, None for end-of-stream."""
        header = parse_header(parts)
        if header.get("eos") is True:
            return None
        check_payload(header, parts[1])
        stream_now = None if self._offset is None else arrived - self._offset
        placed = self.feed.admit(header["frame_index"], float(header["t"]), stream_now)
        if self._offset is None:
            self._offset = arrived - placed[1]
        return (*placed, header)

    def _drain(self, last: int) -> list[tuple[int, float, dict, bytes]]:
        """Read every queued message; return the valid frames beyond `last`, newest first."""
        import zmq

        fresh = []
        while not self.ended and self.socket.poll(0, zmq.POLLIN):
            parts = self.socket.recv_multipart(zmq.NOBLOCK)
            self._last_message = arrived = self.clock()
            try:
                placed = self._admit(parts, arrived)
            except MalformedMessage as e:
                self._reject(e)
                continue
            if placed is None:
                self.ended = True
                break
            self.received += 1
            if self.on_frame is not None:  # in stream terms: a restarted sender's frames continue the stream
                index, t_stream, header = placed
                self.on_frame({**header, "frame_index": index, "t": t_stream}, parts[1], arrived)
            if placed[0] > last:
                fresh.append((*placed, parts[1]))
        # Newest first; among equal indices the later message wins. Older frames are dropped
        # without decoding, as the detector would never look at them.
        order = sorted(range(len(fresh)), key=lambda i: (fresh[i][0], i), reverse=True)
        return [fresh[i] for i in order]

    def _deadline(self, called: float, timeout: float) -> float:
        if self._last_message is None:
            return max(called + timeout, self._created + self._startup_timeout)
        return self._last_message + timeout

    def next_after(self, last: int, timeout: float = float("inf")) -> ArrivedFrame | None:
        called = self.clock()
        while True:
            for index, t, header, payload in self._drain(last):
                try:
                    image = decode_payload(header, payload)
                except MalformedMessage as e:
                    # passed the cheap checks, so it was counted as received: take it back
                    self.received -= 1
                    self._reject(e, f"frame {header['frame_index']}: ")
                    continue
                return ArrivedFrame(index, t, image)
            remaining = self._deadline(called, timeout) - self.clock()
            if self.ended or remaining <= 0:
                return None
            self.socket.poll(int(min(remaining, 0.1) * 1000) + 1)

    def stats(self) -> dict:
        """What the stream log's meta records about the feed."""
        return {"received": self.received, "malformed": self.malformed, "rejected": dict(self.rejected),
                "malformed_reasons": list(self.malformed_reasons), **self.feed.meta()}

    def close(self) -> None:
        self.socket.close()


def stream_video(path: str, sender: FrameSender, *, fps: float | None = None, encoding: str = "jpeg",
                 realtime: bool = True) -> int:
    """Send a video's (or image folder's) frames at their timestamps; returns the number sent.

    With `fps`, frame i is stamped i / fps instead of the file's own timestamps."""
    from data.video import open_source

    source = open_source(path, fps)
    start = time.perf_counter()
    count = 0
    for index, (t_file, image) in enumerate(source):
        t = index / fps if fps else t_file
        if realtime:
            time.sleep(max(start + t - time.perf_counter(), 0.0))
        sender.send(image, t=t, frame_index=index, encoding=encoding)
        count += 1
    sender.send_eos()
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Bad input (video, address) raises, naming the video; run_command exits 2 on it."""
    ap = argparse.ArgumentParser(prog="python -m streaming.zmq_io", description="stream a video file over ZeroMQ")
    ap.add_argument("video")
    ap.add_argument("--address", default="tcp://127.0.0.1:5555")
    ap.add_argument("--pattern", choices=list(_SEND_PATTERNS), default="push")
    ap.add_argument("--bind", action="store_true", help="bind instead of connect")
    ap.add_argument("--fps", type=float, default=None, help="override the video's frame rate")
    ap.add_argument("--encoding", choices=ENCODINGS, default="jpeg")
    args = ap.parse_args(argv)
    try:
        with FrameSender(args.address, pattern=args.pattern, bind=args.bind) as sender:
            n = stream_video(args.video, sender, fps=args.fps, encoding=args.encoding)
    except (OSError, ValueError) as e:
        # the message names the video: errors from the decoder or the socket may not
        raise ValueError(f"{args.video}: {e}") from e
    print(f"sent {n} frames to {args.address}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
