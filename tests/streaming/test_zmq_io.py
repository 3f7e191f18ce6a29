"""Live frames over real ZeroMQ sockets on 127.0.0.1 (random ports, bounded waits)."""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from data.detections import Detections
from detector.runner import FrameRunner
from streaming.realtime import run_realtime
from streaming.zmq_io import FrameSender, ZmqFrameSource, decode_payload, encode_frame, parse_header

pytest.importorskip("zmq")

ANY_PORT = "tcp://127.0.0.1:*"


def _image(i: int, h: int = 24, w: int = 32) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = i * 5
    img[: h // 2, :, 1] = 200
    return img


def _wait_for(src: ZmqFrameSource, last: int, want: int, tries: int = 50):
    """Read until frame `want` (or later) arrives; newest-only reads may skip some frames."""
    seen = []
    for _ in range(tries):
        f = src.next_after(last, timeout=2.0)  # idle time since the last message, not per call
        if f is not None:
            seen.append(f.index)
            last = f.index
            if f.index >= want:
                return f, seen
    raise AssertionError(f"frame {want} never arrived (saw {seen})")


def _read_until(src: ZmqFrameSource, last: int, done, tries: int = 100):
    """Read (and return whatever frame comes) until `done()`; the idle timeout counts from the
    last message, so a call long after it returns at once: retry while messages are in flight."""
    for _ in range(tries):
        frame = src.next_after(last, timeout=0.05)
        if done():
            return frame
        time.sleep(0.02)
    raise AssertionError(f"condition never met; rejected {dict(src.rejected)}")


def test_wire_format_round_trip():
    img = _image(3)
    parts = encode_frame(img, t=0.1, frame_index=3)
    header = parse_header(parts)
    assert header == {"t": 0.1, "frame_index": 3, "shape": [24, 32, 3], "dtype": "uint8", "encoding": "raw"}
    assert np.array_equal(decode_payload(header, parts[1]), img)
    jpeg = encode_frame(img, t=0.1, frame_index=3, encoding="jpeg")
    assert len(jpeg[1]) < img.nbytes
    assert np.abs(decode_payload(parse_header(jpeg), jpeg[1]).astype(int) - img).mean() < 5


def test_push_pull_frames_malformed_messages_and_end_of_stream():
    src = ZmqFrameSource(ANY_PORT, fps=30, pattern="pull", bind=True)
    try:
        with FrameSender(src.endpoint, pattern="push") as tx:
            tx.send(_image(0), t=0.0, frame_index=0)
            f = src.next_after(-1, timeout=5.0)
            assert f is not None and f.index == 0 and f.t == 0.0
            assert np.array_equal(f.image, _image(0))

            good = encode_frame(_image(1), t=1 / 30, frame_index=1)
            header = json.loads(good[0])
            tx.send_parts([b"\xff\xfe not json", good[1]])
            tx.send_parts([good[0]])  # payload missing
            tx.send_parts([json.dumps({**header, "shape": [24, 32]}).encode(), good[1]])
            tx.send_parts([good[0], good[1][:-5]])  # truncated pixels
            tx.send(_image(1), t=1 / 30, frame_index=1, encoding="jpeg")
            f, _ = _wait_for(src, 0, 1)
            assert f.index == 1 and f.image.shape == (24, 32, 3)
            assert src.malformed == 4
            bad_jpeg = json.dumps({**header, "frame_index": 2, "encoding": "jpeg"}).encode()
            tx.send_parts([bad_jpeg, b"not a jpeg"])
            assert _read_until(src, 1, lambda: src.malformed == 5) is None  # nothing decodable arrived
            assert src.malformed == 5 and src.received == 2  # rejected messages are not frames
            text = " | ".join(src.malformed_reasons)
            for reason in ("not UTF-8 JSON", "expected 2 message parts", "'shape'", "raw payload has", "not a JPEG"):
                assert reason in text
            assert src.rejected == {"not_json": 1, "part_count": 1, "bad_shape": 1, "payload_size": 1,
                                    "image_header": 1}

            jpeg = encode_frame(_image(2), t=2 / 30, frame_index=2, encoding="jpeg")
            no_scan = jpeg[1][: jpeg[1].index(b"\xff\xda")] + b"\xff\xd9"  # right size, no image data
            tx.send_parts([jpeg[0], no_scan])
            assert _read_until(src, 1, lambda: src.rejected["decode_failed"] == 1) is None
            assert src.rejected["decode_failed"] == 1 and src.received == 2  # taken back when it failed

            for i in range(2, 6):
                tx.send(_image(i), t=i / 30, frame_index=i)
            f, seen = _wait_for(src, 1, 5)
            assert seen == sorted(seen) and f.index == 5  # only ever newer frames, newest kept
            tx.send_eos()
            assert src.next_after(5, timeout=5.0) is None
            assert src.ended
    finally:
        src.close()


def test_pub_sub_delivers_after_subscription():
    with FrameSender(ANY_PORT, pattern="pub", bind=True) as tx:
        src = ZmqFrameSource(tx.endpoint, fps=30, pattern="sub", bind=False, startup_timeout=0.0)
        try:
            got = None
            for i in range(200):  # PUB drops frames until the subscription is through (slow joiner)
                tx.send(_image(i % 20), t=i / 30, frame_index=i)
                got = src.next_after(-1, timeout=0.02)
                if got is not None:
                    break
            assert got is not None and got.image.shape == (24, 32, 3)
        finally:
            src.close()


def test_realtime_runner_on_a_live_stream_skips_bad_messages():
    fps = 100.0
    src = ZmqFrameSource(ANY_PORT, fps=fps, pattern="pull", bind=True)

    def send_all():
        with FrameSender(src.endpoint, pattern="push") as tx:
            t0 = time.perf_counter()
            for i in range(30):
                time.sleep(max(t0 + i / fps - time.perf_counter(), 0))
                tx.send(_image(i), t=i / fps, frame_index=i)
                if i == 10:
                    tx.send_parts([b"garbage"])
            tx.send_eos()

    def slow_detector(frames):
        time.sleep(0.025)  # 2.5 frame periods: the runner must drop frames
        return [Detections(np.array([[0, 0, 5, 5]]), np.array([0.9]), np.array([frames[0][0, 0, 0] // 5]))]

    sender = threading.Thread(target=send_all)
    sender.start()
    try:
        run = run_realtime(src, FrameRunner(slow_detector), policy="greedy", idle_timeout=5.0)
    finally:
        sender.join(timeout=10)
    idx = [o.frame_index for o in run.outputs]
    assert 3 <= len(idx) < 30 and idx == sorted(set(idx))
    assert [int(o.detections.labels[0]) for o in run.outputs] == idx  # each output from its own frame
    assert all(o.t_done - o.t_start >= 0.024 for o in run.outputs)
    assert all(a.t_done <= b.t_start + 1e-9 for a, b in zip(run.outputs, run.outputs[1:]))
    assert src.malformed == 1 and src.ended
