"""`python -m detector.predict` on images, folders and videos; zoo names resolve offline from the cache."""
from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from data.cli import run_command
from data.detections import Detections
from data.video import VideoWriter
from detector.api import load_detector
from detector.model import build_model
from detector.predict import main as predict_main
from tests.support.infer_models import CLASSES, make_frames, save_lively_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lively_checkpoint(tmp_path_factory.mktemp("predict") / "lively.pth")


def test_predict_folder_skips_bad_images_and_writes_json(ckpt: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "images"
    src.mkdir()
    for i, frame in enumerate(make_frames()):
        cv2.imwrite(str(src / f"frame{i}.png"), frame)
    (src / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    predict_main(["--model", str(ckpt), "--source", str(src), "--save", str(out), "--json", "--batch", "2"])
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == ["frame0.png", "frame1.png", "frame2.png"]
    assert "1 unreadable skipped" in capsys.readouterr().out
    payload = json.loads((out / "detections.json").read_text())
    assert payload["classes"] == list(CLASSES) and set(payload["frames"]) == set(written)
    # predict's default --backend auto: the checkpoint's cached OpenVINO export (tests/conftest.py's cache)
    expected = load_detector(ckpt, backend="auto")(make_frames())
    out_torch = tmp_path / "out_torch"
    predict_main(["--model", str(ckpt), "--source", str(src), "--save", str(out_torch), "--json", "--backend", "torch"])
    from_torch = json.loads((out_torch / "detections.json").read_text())
    for i, dets in enumerate(load_detector(ckpt, backend="torch")(make_frames())):
        assert len(Detections.from_dict(from_torch["frames"][f"frame{i}.png"])) == len(dets)
    for i, dets in enumerate(expected):
        got = Detections.from_dict(payload["frames"][f"frame{i}.png"])
        assert len(got) == len(dets)
        annotated = cv2.imread(str(out / f"frame{i}.png"))
        assert annotated.shape == make_frames()[i].shape and (annotated != make_frames()[i]).any()


def test_predict_single_image_and_errors(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "one.jpg"
    cv2.imwrite(str(image), make_frames()[1])
    predict_main(["--model", str(ckpt), "--source", str(image), "--save", str(tmp_path / "o"), "--conf", "0.5"])
    assert (tmp_path / "o" / "one.jpg").is_file()
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"junk")
    assert run_command(predict_main, ["--model", str(ckpt), "--source", str(bad), "--save", str(tmp_path / "o")]) == 2
    assert "bad.png: not a readable image" in capsys.readouterr().err
    missing = ["--model", str(tmp_path / "missing.pth"), "--source", str(image), "--save", str(tmp_path)]
    assert run_command(predict_main, missing) == 2
    assert "missing.pth: model file not found" in capsys.readouterr().err
    assert run_command(predict_main, ["--model", str(ckpt), "--source", str(image), "--save", str(image)]) == 2
    err = capsys.readouterr().err
    assert "one.jpg: --save is a file, not a folder" in err and len(err.strip().splitlines()) == 1


def test_predict_video_writes_annotated_mp4(ckpt: Path, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    frame = make_frames()[0]  # 240x320
    with VideoWriter(video, 10.0, (frame.shape[1], frame.shape[0])) as writer:
        for k in range(6):
            writer.write(np.roll(frame, 4 * k, axis=1))
    out = tmp_path / "out"
    predict_main(["--model", str(ckpt), "--source", str(video), "--save", str(out)])
    with av.open(str(out / "clip.mp4")) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == frame.shape


def test_zoo_name_resolves_from_cache_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOLOX_STREAMING_CACHE", str(tmp_path))
    torch.save({"model": build_model("yolox_nano").state_dict()}, tmp_path / "yolox_nano.pth")
    det = load_detector("yolox_nano")
    assert det.name == "yolox_nano" and det.input_size == (416, 416) and len(det.classes) == 80
    assert det(make_frames()[:1])[0].boxes.shape[1] == 4
