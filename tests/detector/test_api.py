"""load_detector on .pth checkpoints: metadata, fusing, batching, input sizes and clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from data.classes import COCO_CLASSES
from data.detections import Detections
from detector.api import Detector, detector_from_model, load_detector
from detector.backends.base import ModelFileError
from detector.checkpoint import save_checkpoint
from detector.model import build_model
from tests.support.infer_models import CLASSES, assert_same_detections, lively_model, make_frames, save_lively_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lively_checkpoint(tmp_path_factory.mktemp("ckpt") / "lively.pth")


def test_checkpoint_metadata_is_used(ckpt: Path) -> None:
    det = load_detector(ckpt)
    assert isinstance(det, Detector)
    assert det.name == "yolox_nano" and det.classes == CLASSES and det.input_size == (224, 256)
    assert det.backend.kind == "torch" and not det.legacy
    assert (det.conf_thresh, det.nms_thresh, det.max_det) == (0.3, 0.45, 300)
    results = det(make_frames())
    assert [type(r) for r in results] == [Detections] * 3
    assert all(len(r) > 0 for r in results)  # the lively head fires at the demo threshold
    for frame, dets in zip(make_frames(), results):
        h, w = frame.shape[:2]
        assert (dets.boxes[:, [0, 2]] <= w).all() and (dets.boxes[:, [1, 3]] <= h).all()
        assert (dets.boxes >= 0).all() and (dets.scores >= 0.3).all()
        assert set(dets.labels.tolist()) <= {0, 1, 2}


def test_bare_state_dict_gets_defaults(tmp_path: Path) -> None:
    model = build_model("yolox_nano")  # 80 classes, no metadata in the file
    path = tmp_path / "bare.pth"
    torch.save(model.state_dict(), path)
    det = load_detector(path)
    assert det.classes == COCO_CLASSES and det.input_size == (416, 416) and det.name == "yolox_nano"


def test_fused_equals_unfused(ckpt: Path) -> None:
    plain_model, fused_model = lively_model(), lively_model().fuse()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused_model.modules())
    batch, _, _ = load_detector(ckpt).preprocess(make_frames())
    with torch.no_grad():
        for m in (plain_model, fused_model):
            m.head.decode_in_inference = False  # compare the raw head, before exp() amplifies errors
        a, b = (m(torch.from_numpy(batch)).numpy() for m in (plain_model, fused_model))
    assert np.abs(a - b).max() < 1e-4
    fused, plain = load_detector(ckpt, fuse=True), load_detector(ckpt, fuse=False)
    for x, y in zip(fused(make_frames()), plain(make_frames())):
        assert_same_detections(x, y, score_atol=5e-4)


def test_batch_equals_singles(ckpt: Path) -> None:
    det = load_detector(ckpt, conf_thresh=0.2)
    frames = make_frames()[:2]
    both = det(frames)
    singles = [det([f])[0] for f in frames]
    for x, y in zip(both, singles):
        assert_same_detections(x, y)


def test_thresholds_and_max_det(ckpt: Path) -> None:
    frames = make_frames()[:1]
    loose = load_detector(ckpt, conf_thresh=0.05, nms_thresh=0.65)(frames)[0]
    strict = load_detector(ckpt, conf_thresh=0.33)(frames)[0]
    capped = load_detector(ckpt, conf_thresh=0.05, nms_thresh=0.65, max_det=7)(frames)[0]
    assert len(loose) > len(strict) > 0 and (strict.scores >= 0.33).all()
    assert len(capped) == 7
    np.testing.assert_allclose(capped.scores, loose.scores[:7])


def test_input_size_override(ckpt: Path) -> None:
    det = load_detector(ckpt, input_size=(160, 192))
    assert det.input_size == (160, 192)
    assert det.infer_raw(det.preprocess(make_frames()[:1])[0]).shape == (1, 20 * 24 + 10 * 12 + 5 * 6, 8)
    with pytest.raises(ValueError, match="multiples of 32"):
        load_detector(ckpt, input_size=(100, 100))


def test_detector_from_in_memory_model() -> None:
    model = lively_model()
    det = detector_from_model(model, input_size=(224, 256), class_names=CLASSES, conf_thresh=0.3)
    assert det.backend.decoded and det.classes == CLASSES
    assert len(det(make_frames()[:1])[0]) > 0


# ---------------------------------------------------------------- errors
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_detector(tmp_path / "nope.pth")
    with pytest.raises(FileNotFoundError, match="neither a model file nor a zoo name"):
        load_detector("yolox_unknown")


@pytest.mark.parametrize("name,content", [
    ("junk.pth", bytes(range(256)) * 8),
    ("config.pth", json.dumps({"model": "yolox_s"}).encode()),
    ("junk.onnx", bytes(range(256)) * 8),
    ("config.onnx", json.dumps({"model": "yolox_s"}).encode()),
])
def test_not_a_model_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=name.replace(".", r"\.")) as info:
        load_detector(path)
    assert "\n" not in str(info.value)


def test_checkpoint_without_yolox_weights(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(ValueError, match="other.pth.*no YOLOX weights"):
        load_detector(path)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(ModelFileError, match=r"model\.tflite.*unknown model file type '.tflite'"):
        load_detector(path)


def test_class_count_mismatch(ckpt: Path) -> None:
    with pytest.raises(ValueError, match="3 classes but 8 class names"):
        load_detector(ckpt, class_names=["a"] * 8)
    det = load_detector(ckpt, class_names=["x", "y", "z"])
    assert det.classes == ("x", "y", "z")


def test_bad_checkpoint_classes_entry(tmp_path: Path) -> None:
    path = tmp_path / "badmeta.pth"
    model = build_model("yolox_nano", num_classes=2)
    with pytest.raises(ModelFileError, match="badmeta.pth.*classes"):
        save_checkpoint(path, model, classes=[1, 2])
    torch.save({"model": model.state_dict(), "classes": [1, 2]}, path)  # written by other code
    with pytest.raises(ModelFileError, match="badmeta.pth.*classes"):
        load_detector(path)


def test_inference_threads_default_and_are_restored(ckpt: Path) -> None:
    from detector.backends.base import default_threads

    assert [default_threads(c) for c in (1, 2, 4, 8, 64)] == [1, 1, 2, 4, 8]
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        load_detector(ckpt, threads=0)
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    det = load_detector(ckpt, threads=other)
    seen: list[int] = []
    hook = det.backend.model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        det(make_frames()[:1])
    finally:
        hook.remove()
    assert seen == [other] and torch.get_num_threads() == before  # set for the call only
    assert load_detector(ckpt).backend.threads == default_threads()
