"""Footage as a dataset: frame times, variable-rate resampling, recording sidecars (real PyAV files)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.video import VideoWriter
from data.video_dataset import RECORDING_SCHEMA, is_footage, median_fps, open_footage, resample_slots


def _write_timed(path, times, size=(32, 24)):
    frames = [np.full((size[1], size[0], 3), 10 * i, np.uint8) for i in range(len(times))]
    with VideoWriter(path, 25, size, timed=True, lossless=True) as w:
        for t, f in zip(times, frames):
            w.write(f, t)
    return frames


def test_median_fps_is_a_cameras_rate():
    assert median_fps([i / 25 for i in range(10)]) == 25.0  # not 24.99999999999998
    assert median_fps([i * 1001 / 30000 for i in range(10)]) == pytest.approx(30000 / 1001, abs=1e-12)
    assert median_fps([0.0]) is None


def test_resample_slots_by_hand():
    # median interval 0.04 s: 0.2 lands in slot 5, 0.21 too (merged, the later kept), 0.24 in 6;
    # slots 3 and 4 (a stall) repeat frame 2
    assert resample_slots([0, 0.04, 0.08, 0.2, 0.21, 0.24]) == (25.0, [0, 1, 2, 2, 2, 4, 5])
    assert resample_slots([i / 30 for i in range(5)]) == (30.0, [0, 1, 2, 3, 4])  # constant rate: identity


def test_variable_rate_video_is_resampled_and_fps_overrides(tmp_path):
    path = tmp_path / "vfr.mp4"
    frames = _write_timed(path, [0.0, 0.04, 0.08, 0.2, 0.24])
    footage = open_footage(path)
    assert footage.fps == 25.0 and footage.shown == [0, 1, 2, 2, 2, 3, 4]
    assert footage.info["repeated"] == 2 and "resampled" in footage.info
    load = footage.frame_loader(footage.sequences[0])
    assert np.array_equal(load(4), frames[2]) and np.array_equal(load(6), frames[4])
    assert np.array_equal(load(1), frames[1])  # going back restarts the decoder
    constant = open_footage(path, fps=10)
    assert constant.fps == 10 and constant.shown == [0, 1, 2, 3, 4]


def test_recording_sidecar_times_win_over_pts(tmp_path):
    path = tmp_path / "recording.mp4"
    _write_timed(path, [0.0, 0.1, 0.2])
    sent = [5.0, 5.04, 5.08]  # the capture clock the sender stamped
    (tmp_path / "recording.json").write_text(json.dumps(
        {"schema": RECORDING_SCHEMA, "version": 1, "frames": [{"index": i, "t": t} for i, t in enumerate(sent)]}))
    footage = open_footage(path)
    assert footage.fps == 25.0 and footage.info["times"].startswith("recording sidecar")


def test_is_footage(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    assert is_footage(tmp_path)
    (tmp_path / "annotations").mkdir()
    assert not is_footage(tmp_path)  # a dataset root
    assert not is_footage(tmp_path / "missing.mp4")
