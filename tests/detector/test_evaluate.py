"""`python -m detector.eval` on a generated COCO split: AP table, per-class AP, saved JSON, and
clear errors for a wrong class count, a missing model file or an image folder with no images."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.cli import run_command
from data.coco import CocoDataset
from data.detections import Detections
from detector.checkpoint import save_checkpoint
from detector.evaluate import main, run_detector
from detector.model import build_model
from tests.support.toy_coco import TOY_CLASSES, make_toy_coco


def eval_main(argv):
    return run_command(main, argv)


def test_eval_cli_reports_ap_and_per_class(tmp_path, capsys):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=4, size=(96, 64), seed=5)
    save_checkpoint(tmp_path / "m.pth", build_model("yolox_nano", num_classes=3), classes=list(TOY_CLASSES),
                    input_size=[64, 96], model_name="yolox_nano")
    out = tmp_path / "ap.json"
    rc = eval_main(["--model", str(tmp_path / "m.pth"), "--data", str(ann), "--image-dir", str(img_dir),
                    "--out", str(out), "--threads", "1"])
    assert rc == 0
    stats = json.loads(out.read_text())
    for key in ("AP", "AP50", "AP75", "APs"):  # percent
        assert 0.0 <= stats[key] <= 100.0
    assert stats["APl"] is None  # a 96x64 image holds no box over 96x96 pixels: undefined, not 0
    assert set(stats["per_class"]) == set(TOY_CLASSES)
    assert stats["input_size"] == [64, 96] and stats["num_images"] == 4
    printed = capsys.readouterr().out
    assert "AP50" in printed and "green" in printed


def test_eval_cli_rejects_class_count_mismatch(tmp_path, capsys):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=2, size=(96, 64), seed=6)
    save_checkpoint(tmp_path / "m80.pth", build_model("yolox_nano", num_classes=80))
    rc = eval_main(["--model", str(tmp_path / "m80.pth"), "--data", str(ann), "--image-dir", str(img_dir),
                    "--input-size", "64", "96"])
    assert rc == 2 and "80 classes but the dataset has 3" in capsys.readouterr().err
    assert eval_main(["--model", str(tmp_path / "missing.pth"), "--data", str(ann)]) == 2


def test_perfect_and_empty_detectors(tmp_path):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=3, size=(96, 64), seed=7)
    ds = CocoDataset(ann, img_dir)

    truth = [Detections(b, np.full(len(lab), 0.9), lab) for b, lab in (ds.annotations(i) for i in range(len(ds)))]

    def oracle(frames):  # each frame's ground truth, in the order run_detector reads them
        return [truth.pop(0) for _ in frames]

    assert run_detector(oracle, ds).AP == pytest.approx(100.0)
    nothing = run_detector(lambda frames: [Detections.empty() for _ in frames], ds)
    assert nothing.AP == 0.0 and nothing.num_detections == 0 and nothing.num_images == 3


def test_no_readable_image_is_an_error_not_zeros(tmp_path, capsys):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=2, size=(96, 64), seed=8)
    save_checkpoint(tmp_path / "m.pth", build_model("yolox_nano", num_classes=3), classes=list(TOY_CLASSES),
                    input_size=[64, 96], model_name="yolox_nano")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="none of its 2 images could be read"):
        run_detector(lambda frames: [], CocoDataset(ann, empty))
    assert eval_main(["--model", str(tmp_path / "m.pth"), "--data", str(ann), "--image-dir", str(empty),
                      "--out", str(tmp_path / "ap.json")]) == 2
    err = capsys.readouterr().err
    assert "instances.json" in err and str(empty) in err and not (tmp_path / "ap.json").exists()


def test_reduced_precision_is_reported_against_f32_on_the_same_images(tmp_path, capsys):
    # The demo model on a generated world (its own domain), OpenVINO bf16 against torch f32.
    from data.synthetic import generate_world
    from streaming.detect import demo_model_path

    generate_world(tmp_path / "w", sequences=2, frames=4, size=(480, 300), seed=5, val_fraction=0.5,
                   progress=False)
    out = tmp_path / "ap.json"
    rc = eval_main(["--model", str(demo_model_path()), "--data", str(tmp_path / "w" / "annotations" / "val.json"),
                    "--backend", "auto", "--precision", "bf16", "--threads", "1", "--out", str(out)])
    assert rc == 0
    record = json.loads(out.read_text())
    assert record["backend"] == "openvino" and record["precision"] == "bf16"
    ref = record["reference_f32"]
    assert ref is not None and ref["num_images"] == record["num_images"] == 4
    assert record["AP"] is not None and ref["AP"] > 5  # the demo model finds its world's objects
    assert record["ap_delta_vs_f32"] == pytest.approx(record["AP"] - ref["AP"], abs=1e-3)
    assert abs(record["ap_delta_vs_f32"]) < 5
    printed = capsys.readouterr().out
    assert "(openvino, bf16)" in printed and "(torch, f32)" in printed and "AP change of bf16 against f32" in printed
    # f32 itself needs no reference
    rc = eval_main(["--model", str(demo_model_path()), "--data", str(tmp_path / "w" / "annotations" / "val.json"),
                    "--threads", "1", "--out", str(out)])
    assert rc == 0 and json.loads(out.read_text())["reference_f32"] is None


class _Foresight:
    """A stateful detector that returns, for the k-th frame since its last reset, the ground truth
    of frame k + `ahead` of the sequence it is fed (clamped to the last frame): it records its
    resets so the test sees where each sequence started."""

    stateful = True

    def __init__(self, ds: CocoDataset, sequences: list[list[int]], ahead: int) -> None:
        self.ds, self.sequences, self.ahead = ds, sequences, ahead
        self.resets, self.k = 0, 0

    def reset(self) -> None:
        self.resets += 1
        self.k = 0

    def __call__(self, frames):
        seq = self.sequences[self.resets - 1]
        boxes, labels = self.ds.annotations(seq[min(self.k + self.ahead, len(seq) - 1)])
        self.k += 1
        return [Detections(boxes, np.full(len(labels), 0.9), labels)]


def test_a_learned_forecaster_is_scored_on_the_next_frame_sequence_by_sequence(tmp_path, capsys):
    from data.synthetic import generate_world
    from detector.evaluate import sequence_order

    generate_world(tmp_path / "w", sequences=4, frames=6, size=(480, 300), seed=11, val_fraction=0.5,
                   progress=False)
    ds = CocoDataset(tmp_path / "w" / "annotations" / "val.json", tmp_path / "w")
    sequences = sequence_order(ds)
    assert len(sequences) == 2 and all(len(s) == 6 for s in sequences)
    assert all([ds.image_info(i)["fid"] for i in s] == list(range(6)) for s in sequences)
    perfect = _Foresight(ds, sequences, ahead=1)
    m = run_detector(perfect, ds)
    # each sequence from a fresh buffer; its first frame is predicted by nothing and not scored
    assert perfect.resets == 2 and m.num_images == 10 and m.AP == pytest.approx(100.0)
    # the present instead of the future: the objects moved, so it scores lower
    assert run_detector(_Foresight(ds, sequences, ahead=0), ds).AP < 95.0
    assert run_detector(_Foresight(ds, sequences, ahead=1), ds, max_images=7).num_images == 5
    # a StreamYOLO checkpoint through the command: the record says what it was scored against
    from tests.support.stream_models import random_streamyolo

    ckpt = tmp_path / "sy.pth"
    save_checkpoint(ckpt, random_streamyolo(num_classes=len(ds.classes)), classes=list(ds.classes),
                    input_size=[96, 160], model_name="streamyolo_nano")
    out = tmp_path / "ap.json"
    assert eval_main(["--model", str(ckpt), "--data", str(tmp_path / "w" / "annotations" / "val.json"),
                      "--threads", "1", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["target"] == "next frame" and record["num_images"] == 10
    assert "next frame's ground truth" in capsys.readouterr().out


def test_a_forecaster_needs_sequences(tmp_path):
    from detector.evaluate import sequence_order

    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=2, size=(96, 64), seed=9)
    with pytest.raises(ValueError, match="no sid/fid"):
        sequence_order(CocoDataset(ann, img_dir))
