"""Run configuration (YAML, flags, --set) and mapping a detector's classes to the dataset's."""
from __future__ import annotations

import numpy as np
import pytest

from data.classes import ARGOVERSE_HD_CLASSES, COCO_CLASSES
from data.config import ConfigError, load_config
from data.detections import Detections
from streaming.config import StreamingConfig
from detector.runner import FrameRunner
from streaming.detect import ClassMismatchError, MappedDetector, class_mapping
from streaming.passes import offline_pass
from streaming.run import build_parser, config_from_args


def test_flags_then_set_override_the_yaml(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("latency: fixed:0.05\npolicy: shrinking-tail\nforecast: {method: kalman, min_iou: 0.4}\n")
    args = build_parser().parse_args([
        "--config", str(yaml_file), "--fps", "15", "--input-size", "320", "512", "--perf-factor", "1.2",
        "--forecast", "bytetrack", "--set", "eta=0.5", "--set", "latency=fixed:0.1", "--no-offline",
    ])
    cfg = config_from_args(args)
    assert cfg.latency == "fixed:0.1" and cfg.policy == "shrinking-tail" and cfg.fps == 15.0
    assert cfg.input_size == (320, 512) and cfg.perf_factor == 1.2 and cfg.eta == 0.5
    assert cfg.forecast.method == "bytetrack" and cfg.forecast.min_iou == 0.4
    assert cfg.offline is False and cfg.realtime is False


def test_shipped_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    for name in ("streaming.yaml", "streaming_latency_budget.yaml"):
        load_config(StreamingConfig, root / name)
    assert load_config(StreamingConfig, root / "streaming.yaml") == StreamingConfig()


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["policy=eager"], "policy"),
        (["forecast.method=magic"], "forecast.method"),
        (["input_size=[300, 512]"], "multiples of 32"),
        (["perf_factor=0"], "perf_factor"),
        (["threads=-1"], "threads"),
        (["realtime=true", "latency=fixed:0.1"], "measured"),
        (["realtime=true", "perf_factor=2.0"], "perf_factor 1"),
        (["fps=fast"], "fps"),
        (["no_such_key=1"], "unknown config key"),
    ],
)
def test_bad_config_is_a_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(StreamingConfig, None, overrides)


def _dets(labels):
    n = len(labels)
    return Detections(np.tile([0, 0, 10, 10], (n, 1)), np.linspace(0.9, 0.5, n), np.array(labels))


def test_coco_model_is_mapped_to_argoverse_classes():
    mapping = class_mapping(COCO_CLASSES, 80, ARGOVERSE_HD_CLASSES)
    detector = MappedDetector(lambda frames: [_dets([0, 2, 9, 11, 14, 7])], mapping, 8)
    out = detector([np.zeros((4, 4, 3), np.uint8)])[0]
    # person, car, traffic light, stop sign, (bird dropped), truck
    assert out.labels.tolist() == [0, 2, 6, 7, 5]
    assert out.scores.tolist() == pytest.approx([0.9, 0.82, 0.74, 0.66, 0.5])


def test_dataset_mapping_and_same_classes():
    custom = [m if m != 2 else 80 for m in class_mapping(COCO_CLASSES, 80, ARGOVERSE_HD_CLASSES).tolist()]
    mapping = class_mapping(COCO_CLASSES, 80, ARGOVERSE_HD_CLASSES, coco_mapping=custom)
    assert mapping[2] == 8  # the dataset's own coco_mapping wins: cars dropped here
    assert class_mapping(ARGOVERSE_HD_CLASSES, 8, ARGOVERSE_HD_CLASSES) is None
    assert class_mapping(("Person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "stop sign"),
                         8, ARGOVERSE_HD_CLASSES) is None
    assert class_mapping(tuple(f"class{i}" for i in range(3)), 3, ("a", "b", "c")) is None


def test_class_mismatch_names_the_model():
    with pytest.raises(ClassMismatchError, match="mymodel.onnx: detects 3 classes .*neither COCO's 80"):
        class_mapping(("a", "b", "c"), 3, ARGOVERSE_HD_CLASSES, model_name="mymodel.onnx")
    with pytest.raises(ClassMismatchError, match="detects 80 classes"):
        class_mapping(COCO_CLASSES, 80, ("cat", "dog"))  # no mapping known for this dataset


def test_offline_pass_skips_unreadable_frames():
    def load(i):
        if i == 1:
            raise ValueError("frame1.jpg: cannot decode image")
        return np.zeros((4, 4, 3), np.uint8)

    done = offline_pass(FrameRunner(lambda frames: [_dets([0])], load), 3)
    assert done.detections[1] is None and len(done.detections[0]) == 1 and len(done.detections[2]) == 1
    assert done.bad_frames == ["frame 1: frame1.jpg: cannot decode image"]
    assert len(done.runtimes) == 3 and all(r >= 0 for r in done.runtimes)
    assert done.measured == [done.runtimes[0], done.runtimes[2]]  # the skipped frame is no runtime
