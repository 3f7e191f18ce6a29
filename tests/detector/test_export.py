"""ONNX / OpenVINO export: official layout, metadata, and parity with PyTorch through real runtimes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from data.cli import run_command
from detector.api import load_detector
from detector.backends.base import BackendUnavailable, ModelFileError, ModelMetadata
from detector.export import export_onnx, main as export_main
from detector.postprocess import num_anchors
from detector.preprocess import preprocess_batch
from tests.support.infer_models import CLASSES, assert_same_detections, lively_model, make_frames, save_lively_checkpoint

SIZE = (224, 256)
N = num_anchors(SIZE)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A checkpoint, its raw ONNX export (CLI, dynamo exporter, opset 18) and a decoded dynamic-batch
    export with the TorchScript exporter at opset 11, the official exporter's default."""
    root = tmp_path_factory.mktemp("export")
    ckpt = save_lively_checkpoint(root / "lively.pth")
    export_main(["--model", str(ckpt), "--format", "onnx", "--output", str(root / "raw.onnx")])
    meta = ModelMetadata(model_name="yolox_nano", classes=CLASSES, input_size=SIZE)
    export_onnx(lively_model(), root / "decoded.onnx", input_size=SIZE, metadata=meta, decode=True,
                dynamic_batch=True, opset=11)
    return {"ckpt": ckpt, "raw": root / "raw.onnx", "decoded": root / "decoded.onnx", "root": root}


def _batch(n: int = 3) -> np.ndarray:
    return preprocess_batch(make_frames()[:n], SIZE)[0]


def _torch_head(batch: np.ndarray, *, decode: bool) -> np.ndarray:
    model = lively_model()
    model.head.decode_in_inference = decode
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


def _strip_metadata(src: Path, dst: Path) -> Path:
    """What the official YOLOX exporter writes: same graph, no metadata_props."""
    proto = onnx.load(str(src))
    del proto.metadata_props[:]
    onnx.save(proto, str(dst))
    return dst


def test_raw_export_has_official_layout_and_metadata(files: dict[str, Path]) -> None:
    proto = onnx.load(str(files["raw"]))
    onnx.checker.check_model(proto)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    dims = lambda v: [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert (inp.name, dims(inp)) == ("images", [1, 3, *SIZE])
    assert (out.name, dims(out)) == ("output", [1, N, 5 + len(CLASSES)])
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["model_name"] == "yolox_nano"
    assert json.loads(props["classes"]) == list(CLASSES)
    assert json.loads(props["input_size"]) == list(SIZE)
    assert json.loads(props["decoded"]) is False and json.loads(props["legacy"]) is False
    # the stem's space-to-depth is folded into its conv (no strided slices for the runtimes)
    assert not any(n.op_type == "Slice" for n in proto.graph.node)


def test_raw_head_parity_with_torch(files: dict[str, Path]) -> None:
    session = ort.InferenceSession(str(files["raw"]), providers=["CPUExecutionProvider"])
    batch = _batch()
    ours = np.concatenate([session.run(None, {"images": batch[i:i + 1]})[0] for i in range(len(batch))])
    ref = _torch_head(batch, decode=False)
    assert ours.shape == ref.shape == (3, N, 8)
    assert np.abs(ours - ref).max() < 1e-4


def test_decoded_dynamic_batch_parity_with_torch(files: dict[str, Path]) -> None:
    assert onnx.load(str(files["decoded"])).opset_import[0].version == 11
    assert onnx.load(str(files["raw"])).opset_import[0].version == 18
    session = ort.InferenceSession(str(files["decoded"]), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch"
    batch = _batch()
    ours = session.run(None, {"images": batch})[0]
    ref = _torch_head(batch, decode=True)
    assert np.abs(ours[..., 4:] - ref[..., 4:]).max() < 1e-4
    assert np.abs(ours[..., :4] - ref[..., :4]).max() < 1e-4 * max(1.0, float(np.abs(ref[..., :4]).max()))


def test_onnx_detections_equal_torch_detections(files: dict[str, Path]) -> None:
    frames = make_frames()
    ref = load_detector(files["ckpt"])(frames)
    for key in ("raw", "decoded"):
        det = load_detector(files[key])
        assert det.backend.kind == "onnx" and det.classes == CLASSES and det.input_size == SIZE
        assert det.backend.decoded is (key == "decoded")
        for a, b in zip(det(frames), ref):
            assert_same_detections(a, b)


@pytest.mark.parametrize("key", ["raw", "decoded"])
def test_onnx_without_metadata_runs_like_official_export(files: dict[str, Path], key: str, tmp_path: Path) -> None:
    plain = _strip_metadata(files[key], tmp_path / f"official_{key}.onnx")
    det = load_detector(plain)
    assert det.name == f"official_{key}" and det.input_size == SIZE
    assert det.backend.decoded is (key == "decoded")  # found by the probe, not told
    assert det.classes == ("class0", "class1", "class2")
    named = load_detector(plain, class_names=CLASSES)
    with_meta = load_detector(files[key])
    for a, b in zip(named(make_frames()), with_meta(make_frames())):
        assert_same_detections(a, b, box_atol=1e-5, score_atol=1e-7)


def test_fixed_graph_rejects_other_input_size(files: dict[str, Path]) -> None:
    with pytest.raises(ModelFileError, match="raw.onnx.*fixed input size 224x256"):
        load_detector(files["raw"], input_size=(320, 320))
    with pytest.raises(ValueError, match="3 classes but 2 class names"):
        load_detector(files["raw"], class_names=["a", "b"])


def test_onnx_user_does_not_import_torch(files: dict[str, Path]) -> None:
    code = ("import sys, numpy as np\n"
            "from detector import load_detector\n"
            f"det = load_detector({str(files['raw'])!r})\n"
            "out = det([np.zeros((120, 160, 3), np.uint8)])\n"
            "assert len(out) == 1, out\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_openvino_export_parity(files: dict[str, Path]) -> None:
    pytest.importorskip("openvino", reason="OpenVINO is an optional extra (pip install '.[openvino]')")
    xml = files["root"] / "lively.xml"
    export_main(["--model", str(files["ckpt"]), "--format", "openvino", "--precision", "f32", "--output", str(xml)])
    det = load_detector(xml)
    assert det.backend.kind == "openvino"
    assert (det.name, det.classes, det.input_size, det.backend.decoded) == ("yolox_nano", CLASSES, SIZE, False)
    ref = load_detector(files["raw"])
    batch = _batch()
    a, b = det.infer_raw(batch), ref.infer_raw(batch)
    assert np.abs(a[..., 4:] - b[..., 4:]).max() < 1e-3
    assert np.abs(a[..., :4] - b[..., :4]).max() < 1e-3 * max(1.0, float(np.abs(b[..., :4]).max()))
    for x, y in zip(det(make_frames()), ref(make_frames())):
        assert len(x) == len(y) and (x.labels == y.labels).all()
        np.testing.assert_allclose(x.boxes, y.boxes, atol=0.05)


def test_tensorrt_missing_gives_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here; the GPU test covers it")
    except ImportError:
        pass
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\0" * 64)
    with pytest.raises(BackendUnavailable, match="^TensorRT is not installed: "):
        load_detector(engine)
    assert run_command(export_main, ["--model", "yolox_nano", "--random-init", "--format", "engine", "--output",
                                     str(tmp_path / "x.engine")]) == 2
    assert "TensorRT is not installed" in capsys.readouterr().err


def test_tensorrt_engine_parity(files: dict[str, Path]) -> None:
    pytest.importorskip("tensorrt", reason="TensorRT is not installed")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    engine = files["root"] / "lively.engine"
    export_main(["--model", str(files["ckpt"]), "--format", "engine", "--output", str(engine)])
    det, ref = load_detector(engine), load_detector(files["raw"])
    assert (det.name, det.classes, det.input_size) == ("yolox_nano", CLASSES, SIZE)
    batch = _batch()
    a, b = det.infer_raw(batch), ref.infer_raw(batch)
    assert np.abs(a[..., 4:] - b[..., 4:]).max() < 2e-2  # FP16 engine
