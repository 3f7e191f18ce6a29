"""`python -m streaming.live` as a real subprocess on a real socket: Ctrl-C keeps every processed
frame in the log, and a sender that starts late, restarts or sends garbage is handled."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from streaming.log import read_log
from tests.support.processes import interrupt, wait_for

pytest.importorskip("zmq")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from detector.checkpoint import save_checkpoint
    from detector.model import build_model

    path = tmp_path_factory.mktemp("model") / "nano8.pth"
    torch.manual_seed(0)
    save_checkpoint(path, build_model("yolox_nano", num_classes=8), input_size=[96, 160])
    return path


def test_ctrl_c_keeps_processed_frames_across_a_late_and_restarted_sender(checkpoint, tmp_path):
    from streaming.zmq_io import FrameSender

    out = tmp_path / "live"
    log_path = out / "logs" / "live.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    with FrameSender("tcp://127.0.0.1:*", pattern="push", bind=True) as tx:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streaming.live", "--model", str(checkpoint), "--address", tx.endpoint,
             "--connect", "--fps", "10", "--idle-timeout", "1", "--out", str(out), "--conf-thresh", "0.0",
                 "--backend", "torch"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        try:
            wait_for(log_path.is_file, 120, "the live log header")  # model loaded, receiver listening
            time.sleep(1.5)  # longer than --idle-timeout: idle time counts only after a message
            frame = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
            for segment in range(2):  # the sender restarts: indices and its clock start again at 0
                for i in range(6):
                    tx.send(frame, t=i / 10, frame_index=i)
                    tx.send_parts([b"[1, 2]", b""])  # garbage between frames
                    time.sleep(0.1)  # at the stamped rate, slower than the detector: all are processed
                wait_for(lambda n=segment: len(read_log(log_path).outputs) >= 6 * n + 6, 60, "outputs")
        except BaseException:
            proc.kill()  # the failure above is the one to report
            raise
        interrupt(proc)
    log = read_log(log_path)
    assert log.meta["complete"] and log.meta["interrupted"] and log.meta["rejected"] == {"not_object": 12}
    indices = [o.frame_index for o in log.outputs]
    assert len(indices) == 12 and indices == sorted(indices)  # nothing taken for "older" after the restart
    assert log.meta["num_segments"] == 2 and [s["reason"] for s in log.meta["segments"]] == ["start", "restart"]
    assert log.meta["received"] == 12 and 5 < log.meta["feed_fps"] < 60
