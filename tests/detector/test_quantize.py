"""OpenVINO precisions: f32 / bf16 / INT8 (NNCF on a handful of frames), recorded and honoured."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("openvino", reason="OpenVINO (test extra) runs the exported IR")

from detector.api import Detector, load_detector  # noqa: E402
from detector.backends.base import ModelFileError  # noqa: E402
from detector.backends.openvino_backend import OpenVinoBackend  # noqa: E402
from detector.export import main as export_main  # noqa: E402
from detector.preprocess import preprocess_batch  # noqa: E402
from detector.quantize import head_output_convs, load_calibration_frames, normalise_precision  # noqa: E402
from tests.support.infer_models import make_frames, save_lively_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001
    """The tiny lively model as f32, bf16 and INT8 IRs (INT8 calibrated on 4 image files)."""
    pytest.importorskip("nncf", reason="NNCF (openvino extra) quantizes to INT8")
    folder = tmp_path_factory.mktemp("quantize")
    ckpt = save_lively_checkpoint(folder / "m.pth")
    calib = folder / "calib" / "nested"  # searched recursively
    calib.mkdir(parents=True)
    for i, frame in enumerate(make_frames(7) + make_frames(8)[:1]):
        cv2.imwrite(str(calib / f"{i}.png"), frame)
    out = {}
    for precision in ("f32", "bf16", "int8"):
        out[precision] = folder / f"m_{precision}.xml"
        extra = ["--calibration", str(folder / "calib")] if precision == "int8" else []
        export_main(["--model", str(ckpt), "--format", "openvino", "--precision", precision, "--output",
                     str(out[precision]), *extra])
    return out


def test_precision_is_recorded_and_compiled_as_recorded(exported) -> None:  # noqa: ANN001
    import openvino as ov

    core = ov.Core()
    has_bf16 = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    for precision, stored in (("f32", "fp32"), ("bf16", "bf16"), ("int8", "int8")):
        model = core.read_model(str(exported[precision]))
        assert model.get_rt_info(["yolox_streaming", "precision"]).astype(str) == stored
        fq = sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        assert (fq > 0) == (precision == "int8")
        backend = OpenVinoBackend(exported[precision], threads=1)
        hint = str(backend.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
        if precision == "f32" or not has_bf16:
            assert "f32" in hint or "float32" in hint
        else:
            assert "bf16" in hint or "bfloat16" in hint
        assert backend.precision == (stored if (has_bf16 or stored != "bf16") else "fp32")
        assert backend.precision in repr(Detector(backend))


def test_int8_keeps_the_head_in_float_and_detects_like_f32(exported) -> None:  # noqa: ANN001
    import openvino as ov

    model = ov.Core().read_model(str(exported["int8"]))
    heads = set(head_output_convs(model))
    assert len(heads) == 9  # box, objectness and class logits at three strides
    for op in model.get_ops():  # no FakeQuantize feeds a head output convolution
        if op.get_friendly_name() in heads:
            assert all(op.input_value(i).get_node().get_type_name() != "FakeQuantize" for i in range(2))
    frames = make_frames(3)
    f32 = OpenVinoBackend(exported["f32"], threads=1)
    int8 = OpenVinoBackend(exported["int8"], threads=1)
    batch = preprocess_batch(frames, f32.input_size)[0]
    a, b = f32.run(batch), int8.run(batch)
    assert a.shape == b.shape
    scores_a, scores_b = a[..., 4] * a[..., 5:].max(-1), b[..., 4] * b[..., 5:].max(-1)
    # Random weights calibrated on 4 frames quantize coarsely (0.41 measured; the trained demo model
    # keeps AP within 0.4, benchmarks/precision.py); a broken graph (constant, scrambled) gives ~0 or NaN.
    assert np.corrcoef(scores_a.ravel(), scores_b.ravel())[0, 1] > 0.25
    assert not np.array_equal(a, b)  # and really quantized


def test_precision_override_and_errors(exported, tmp_path) -> None:  # noqa: ANN001
    det = load_detector(exported["f32"], precision="bf16", threads=1)
    assert det.backend.precision in ("bf16", "fp32")  # fp32 on CPUs without bf16
    with pytest.raises(ModelFileError, match="INT8 .quantized. IR"):
        load_detector(exported["f32"], precision="int8", threads=1)
    with pytest.raises(ValueError, match="not an OpenVINO precision"):
        normalise_precision("fp8")
    with pytest.raises(ValueError, match="precision 'bf16' is for the OpenVINO backend"):
        load_detector(str(save_lively_checkpoint(tmp_path / "c.pth")), backend="torch", precision="bf16")
    with pytest.raises(FileNotFoundError, match="calibration source not found"):
        load_calibration_frames(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable images"):
        load_calibration_frames(tmp_path / "empty")


def test_calibration_from_a_video_is_sampled_over_the_whole_file(tmp_path) -> None:
    from data.video import VideoWriter

    writer = VideoWriter(tmp_path / "clip.mp4", 30.0, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.close()
    frames = load_calibration_frames(tmp_path / "clip.mp4", count=4)
    assert len(frames) == 4
    means = [float(f.mean()) for f in frames]
    assert means[0] < 20 and means[-1] > 150  # first and last frames, not the first four
