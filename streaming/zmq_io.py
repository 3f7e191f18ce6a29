"""Live frames over ZeroMQ: a receiving FrameSource and the matching sender.

Wire format, one multipart message per frame:
    [header: UTF-8 JSON {"t": capture_time_s, "frame_index": i, "shape": [H, W, 3],
                         "dtype": "uint8", "encoding": "raw" | "jpeg"},
     payload: raw pixel bytes (BGR, row-major) or a JPEG file]
An end-of-stream message is a single part {"eos": true}. Malformed messages are skipped,
counted and reported; they never stop the receiver. Patterns: PUSH/PULL (nothing lost) or
PUB/SUB (late joiners miss frames, as a camera feed would).

    python -m streaming.zmq_io VIDEO --address tcp://127.0.0.1:5555 [--pattern push|pub] [--bind]
streams a video file (or an image folder) at its frame rate (or --fps).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from data.cli import run_command
from streaming.sources import ArrivedFrame

ENCODINGS = ("raw", "jpeg")
_SEND_PATTERNS = {"push": "PUSH", "pub": "PUB"}
_RECV_PATTERNS = {"pull": "PULL", "sub": "SUB"}


class MalformedMessage(ValueError):
    pass


def encode_frame(image: np.ndarray, *, t: float, frame_index: int, encoding: str = "raw",
                 jpeg_quality: int = 90) -> list[bytes]:
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"frames must be HxWx3 uint8 BGR, got {image.shape} {image.dtype}")
    if encoding == "raw":
        payload = image.tobytes()
    elif encoding == "jpeg":
        import cv2

        ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        payload = buf.tobytes()
    else:
        raise ValueError(f"unknown encoding {encoding!r}: use one of {ENCODINGS}")
    header = {"t": float(t), "frame_index": int(frame_index), "shape": list(image.shape),
              "dtype": "uint8", "encoding": encoding}
    return [json.dumps(header).encode(), payload]


def parse_header(parts: list[bytes]) -> dict:
    """Validate a message's header (cheap: no pixel decoding). {"eos": True} ends the stream."""
    try:
        header = json.loads(parts[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, IndexError):
        raise MalformedMessage("header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise MalformedMessage("header is not a JSON object")
    if header.get("eos") is True and len(parts) == 1:
        return header
    if len(parts) != 2:
        raise MalformedMessage(f"expected 2 message parts (header, payload), got {len(parts)}")
    t, index, shape = header.get("t"), header.get("frame_index"), header.get("shape")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not np.isfinite(t):
        raise MalformedMessage("header 't' must be a finite number")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise MalformedMessage("header 'frame_index' must be an integer >= 0")
    if (not isinstance(shape, list) or len(shape) != 3 or shape[2] != 3
            or not all(isinstance(s, int) and s > 0 for s in shape)):
        raise MalformedMessage("header 'shape' must be [H, W, 3]")
    if header.get("dtype") != "uint8":
        raise MalformedMessage(f"unsupported dtype {header.get('dtype')!r} (only uint8)")
    if header.get("encoding") not in ENCODINGS:
        raise MalformedMessage(f"unknown encoding {header.get('encoding')!r}")
    return header


def check_payload_size(header: dict, payload: bytes) -> None:
    """The cheap payload check, done for every message (JPEG validity needs a decode)."""
    need = int(np.prod(header["shape"]))
    if header["encoding"] == "raw" and len(payload) != need:
        raise MalformedMessage(f"raw payload has {len(payload)} bytes, shape {header['shape']} needs {need}")
    if header["encoding"] == "jpeg" and not payload:
        raise MalformedMessage("empty JPEG payload")


def decode_payload(header: dict, payload: bytes) -> np.ndarray:
    shape = tuple(header["shape"])
    check_payload_size(header, payload)
    if header["encoding"] == "raw":
        return np.frombuffer(payload, dtype=np.uint8).reshape(shape)
    import cv2

    image = cv2.imdecode(np.frombuffer(payload, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise MalformedMessage("JPEG payload does not decode")
    if image.shape != shape:
        raise MalformedMessage(f"JPEG decodes to {list(image.shape)}, header says {list(shape)}")
    return image


def _socket(kind: str, address: str, bind: bool) -> Any:
    import zmq

    sock = zmq.Context.instance().socket(getattr(zmq, kind))
    sock.setsockopt(zmq.LINGER, 0)
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

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> "FrameSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZmqFrameSource:
    """FrameSource over ZeroMQ. The stream clock is the senders' capture clock, anchored when
    the first frame arrives; frame indices come from the headers."""

    def __init__(self, address: str, *, fps: float, pattern: str = "pull", bind: bool = True,
                 clock: Callable[[], float] = time.perf_counter, max_reasons: int = 20,
                 on_frame: Callable[[dict, bytes, float], None] | None = None) -> None:
        if pattern not in _RECV_PATTERNS:
            raise ValueError(f"receiver pattern must be one of {list(_RECV_PATTERNS)}, got {pattern!r}")
        self.fps = float(fps)
        self.clock = clock
        self.socket = _socket(_RECV_PATTERNS[pattern], address, bind)
        self.endpoint = endpoint(self.socket) if bind else address
        self.malformed = 0
        self.malformed_reasons: list[str] = []
        self.received = 0
        self.ended = False
        self._max_reasons = max_reasons
        self._offset: float | None = None
        # Called with (header, payload, arrival clock time) for every valid frame, also the ones
        # the detector will skip: the session recorder (streaming/recorder.py) stores them all.
        self.on_frame = on_frame

    def start(self) -> None:
        pass  # the socket is live from construction so no frame is missed before start

    def now(self) -> float:
        return 0.0 if self._offset is None else self.clock() - self._offset

    def _reject(self, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_reasons) < self._max_reasons:
            self.malformed_reasons.append(reason)

    def _drain(self, last: int) -> list[tuple[dict, bytes, float]]:
        """Read every queued message; return the valid frames beyond `last`, newest first."""
        import zmq

        fresh = []
        while not self.ended and self.socket.poll(0, zmq.POLLIN):
            parts = self.socket.recv_multipart(zmq.NOBLOCK)
            arrived = self.clock()
            try:
                header = parse_header(parts)
                if header.get("eos") is not True:
                    check_payload_size(header, parts[1])
            except MalformedMessage as e:
                self._reject(str(e))
                continue
            if header.get("eos") is True:
                self.ended = True
                break
            self.received += 1
            if self.on_frame is not None:
                self.on_frame(header, parts[1], arrived)
            if header["frame_index"] > last:
                fresh.append((header, parts[1], arrived))
        # Newest first; among equal indices the later message wins. Older frames are dropped
        # without decoding, as the detector would never look at them.
        order = sorted(range(len(fresh)), key=lambda i: (fresh[i][0]["frame_index"], i), reverse=True)
        return [fresh[i] for i in order]

    def next_after(self, last: int, timeout: float = float("inf")) -> ArrivedFrame | None:
        deadline = self.clock() + timeout
        while True:
            for header, payload, arrived in self._drain(last):
                try:
                    image = decode_payload(header, payload)
                except MalformedMessage as e:
                    self._reject(f"frame {header['frame_index']}: {e}")
                    continue
                if self._offset is None:
                    self._offset = arrived - float(header["t"])
                return ArrivedFrame(int(header["frame_index"]), float(header["t"]), image)
            remaining = deadline - self.clock()
            if self.ended or remaining <= 0:
                return None
            self.socket.poll(int(min(remaining, 0.1) * 1000) + 1)

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
