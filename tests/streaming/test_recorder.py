"""Record a live session over a real ZeroMQ socket and replay it through the simulator.

The live receiver runs as the command (`python -m streaming.live --record`, a subprocess) and a
real street clip is sent to it frame by frame at its capture times; the recording is then
streamed with `streaming.run --data RECORDING --latency trace:LIVE_LOG`, which must take the
frames the live run took.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from data.cli import run_command
from data.video import VideoSource
from data.video_dataset import open_footage
from eval_streaming.render import main as render_main
from streaming.detect import demo_model_path
from streaming.log import read_log
from streaming.recorder import SessionRecorder
from streaming.run import main as run_main
from streaming.zmq_io import FrameSender, encode_frame
from tests.support.street_clip import bikes_path

FPS = 50.0  # faster than the demo detector on any CPU, so frames are dropped; frame i is stamped i / FPS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send_paced(address: str, frames: list[np.ndarray]) -> None:
    """Send frame i at i / FPS after the first send (a camera's timing), then end the stream."""
    with FrameSender(address) as sender:
        # Let the TCP connection come up first: the receiver anchors its stream clock on frame 0's
        # arrival, and a frame 0 that waits for the handshake would shift the live clock by it.
        time.sleep(0.5)
        t0 = time.perf_counter()
        for i, image in enumerate(frames):
            time.sleep(max(t0 + i / FPS - time.perf_counter(), 0.0))
            sender.send(image, t=i / FPS, frame_index=i, encoding="raw")
        sender.send_eos()


def _wait_for_listening(proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "listening on" in line:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"streaming.live did not start listening: {proc.stderr.read()}")


def test_recorder_stores_every_frame_losslessly_at_its_capture_time(tmp_path):
    frames = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), np.uint8) for i in range(5)]
    times = [0.0, 0.04, 0.1, 0.13, 0.2]  # a jittery feed
    recorder = SessionRecorder(tmp_path / "recording.mp4", nominal_fps=25)
    for i, (t, image) in enumerate(zip(times, frames)):
        header, payload = encode_frame(image, t=t, frame_index=i, encoding="raw")
        recorder(json.loads(header), payload, 100.0 + t)
    sidecar = recorder.close()
    decoded = list(VideoSource(tmp_path / "recording.mp4"))
    assert [round(t, 4) for t, _ in decoded] == times  # pts carry the capture times
    assert all(np.array_equal(a, b) for (_, a), b in zip(decoded, frames))  # lossless
    side = json.loads(sidecar.read_text())
    assert [f["t"] for f in side["frames"]] == times and [f["index"] for f in side["frames"]] == list(range(5))


def test_live_record_then_replay_with_its_trace_takes_the_same_frames(tmp_path):
    frames = [image for _, (_, image) in zip(range(100), VideoSource(bikes_path()))]
    port = _free_port()
    live_dir = tmp_path / "live"
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        # torch eager: slow enough to drop frames at 50 FPS (the OpenVINO path keeps up when idle)
        [sys.executable, "-m", "streaming.live", "--model", str(demo_model_path()), "--backend", "torch", "--record",
         "--address", f"tcp://127.0.0.1:{port}", "--idle-timeout", "10", "--out", str(live_dir)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for_listening(proc)
        _send_paced(f"tcp://127.0.0.1:{port}", frames)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    live_log = live_dir / "logs" / "live.jsonl"
    live = read_log(live_log)
    assert live.fps == FPS  # the feed's own rate, not the 30 FPS default
    recording = live_dir / "recording.mp4"
    footage = open_footage(recording)
    assert footage.fps == FPS and len(footage.shown) == len(frames)

    # the live log renders from its recording (no annotations, no ground truth)
    assert run_command(render_main, ["--log", str(live_dir)]) == 0
    assert sum(1 for _ in VideoSource(live_dir / "videos" / "live.mp4")) == live.num_frames

    replay_dir = tmp_path / "replay"
    code = run_command(run_main, ["--data", str(recording), "--model", str(demo_model_path()), "--backend", "torch",
                                  "--latency", f"trace:{live_log}", "--out", str(replay_dir)])
    assert code == 0
    replay = read_log(replay_dir / "logs" / "recording.jsonl")
    live_frames = [o.frame_index for o in live.outputs]
    replay_frames = [o.frame_index for o in replay.outputs]
    print("live  ", live_frames)
    print("replay", replay_frames)
    assert len(live_frames) < len(frames)  # the detector could not keep up: frames were dropped
    # The replay knows each frame's capture stamp; the live receiver saw it later (the sender's
    # sleep overshoot, the socket, the GIL under load). When the detector became free inside that
    # window the live run took an earlier frame than the replay; the timelines agree again once
    # the detector waits for a frame. The live log measures that lag: a call starting at stream
    # time t that picked frame f ran `floor(t * fps) - f` frames behind the stamps. A replay pick
    # may differ from the live ones by at most that lag plus one frame; a broken trace replay
    # (wrong runtimes, wrong order) drifts much further over 100 frames.
    lag = max(int(np.floor(o.t_start * FPS + 1e-9)) - o.frame_index for o in live.outputs)
    reach = max(lag, 0) + 1
    print("live lag (frames)", lag)
    live_set, replay_set = set(live_frames), set(replay_frames)
    print("agreement", len(live_set & replay_set) / len(live_set | replay_set))
    assert abs(len(replay_frames) - len(live_frames)) <= 3 + lag
    assert all(any(abs(f - g) <= reach for g in live_set) for f in replay_set)
    # How many picks agree exactly depends on the machine's load (0.83-1.0 idle, 0.48 with another
    # CPU-heavy job at 50 FPS): arrival delays grow with it. The checks above hold either way.
