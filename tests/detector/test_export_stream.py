"""StreamYOLO export with its feature buffer: ONNX Runtime and OpenVINO sessions keep the buffer
between calls, reset it between streams, and match the torch online path; the metadata names the
buffer; the automatic CPU path compiles a StreamYOLO checkpoint to a cached f32 OpenVINO IR."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from detector.api import load_detector
from detector.backends.base import ModelFileError, ModelMetadata
from detector.checkpoint import save_checkpoint
from detector.export import export_onnx, main as export_main
from detector.export_stream import BUFFER_INPUTS, BUFFER_OUTPUTS, BUFFER_VALID
from detector.runner import is_stateful, reset_stream
from tests.support.stream_models import random_streamyolo

HW = (64, 96)
CHANNELS = (64, 128, 256)  # streamyolo_nano: 256w, 512w, 1024w with w = 0.25


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A StreamYOLO-nano checkpoint, its ONNX export through the CLI (dynamo exporter) and its
    OpenVINO f32 IR through the CLI (TorchScript exporter, opset 17: both exporters covered)."""
    root = tmp_path_factory.mktemp("export_stream")
    ckpt = root / "stream.pth"
    save_checkpoint(ckpt, random_streamyolo(num_classes=3), model_name="streamyolo_nano", input_size=list(HW))
    export_main(["--model", str(ckpt), "--format", "onnx", "--output", str(root / "stream.onnx")])
    export_main(["--model", str(ckpt), "--format", "openvino", "--opset", "17", "--output", str(root / "stream.xml")])
    return {"ckpt": ckpt, "onnx": root / "stream.onnx", "xml": root / "stream.xml", "root": root}


def _frames(n: int = 5, seed: int = 3) -> list[np.ndarray]:
    """Preprocessed [1, 3, H, W] frames: a black one, then noise (so the buffer visibly matters)."""
    rng = np.random.default_rng(seed)
    frames = [np.zeros((1, 3, *HW), np.float32)]
    frames += [rng.integers(0, 256, (1, 3, *HW)).astype(np.float32) for _ in range(n - 1)]
    return frames


def _sequence(det, frames: list[np.ndarray]) -> list[np.ndarray]:  # noqa: ANN001
    """Frames 0, 1, 2 of one stream, then a reset (what every loop over sequences calls) and
    frames 3, 4 of another."""
    assert is_stateful(det)
    reset_stream(det)
    outs = []
    for i, frame in enumerate(frames):
        if i == 3:
            reset_stream(det)
        outs.append(det.infer_raw(frame))
    return outs


def test_onnx_graph_names_the_buffer_in_its_io_and_metadata(files: dict[str, Path]) -> None:
    proto = onnx.load(str(files["onnx"]))
    assert [i.name for i in proto.graph.input] == ["images", *BUFFER_INPUTS, BUFFER_VALID]
    assert [o.name for o in proto.graph.output] == ["output", *BUFFER_OUTPUTS]
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*proto.graph.input, *proto.graph.output]}
    for k, (stride, c) in enumerate(zip((8, 16, 32), CHANNELS)):
        assert shapes[BUFFER_INPUTS[k]] == shapes[BUFFER_OUTPUTS[k]] == [1, c, HW[0] // stride, HW[1] // stride]
    props = {p.key: p.value for p in proto.metadata_props}
    meta = ModelMetadata.from_strings(props, source="x")
    assert (meta.buffer_inputs, meta.buffer_outputs, meta.buffer_valid) == (BUFFER_INPUTS, BUFFER_OUTPUTS,
                                                                            BUFFER_VALID)
    assert meta.forecast_frames == 1 and meta.model_name == "streamyolo_nano" and meta.input_size == HW
    assert ModelMetadata.from_strings(meta.to_strings(), source="x") == meta  # round trip
    broken = dict(props)
    del broken["buffer_outputs"]
    with pytest.raises(ModelFileError, match="x: metadata must name as many buffer_inputs"):
        ModelMetadata.from_strings(broken, source="x")


@pytest.mark.parametrize("fmt", ["onnx", "xml"])
def test_exported_session_keeps_and_resets_the_buffer_like_torch(files: dict[str, Path], fmt: str) -> None:
    torch_det = load_detector(files["ckpt"], backend="torch", conf_thresh=0.0, threads=1)
    graph_det = load_detector(files[fmt], conf_thresh=0.0, threads=1)
    assert graph_det.backend.stateful and graph_det.forecast_frames == 1
    assert graph_det.backend.kind == {"onnx": "onnx", "xml": "openvino"}[fmt]
    if fmt == "xml":
        assert graph_det.backend.precision == "fp32"
    frames = _frames()
    want, got = _sequence(torch_det, frames), _sequence(graph_det, frames)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    # the buffer matters: frame 1 after frame 0 is not frame 1 alone (a reset), nor frame 3 after 2
    graph_det.reset()
    alone = graph_det.infer_raw(frames[1])
    assert np.abs(alone - got[1]).max() > 1e-2
    graph_det.reset()
    np.testing.assert_allclose(graph_det.infer_raw(frames[3]), got[3], rtol=1e-6, atol=1e-6)  # after a reset
    graph_det.reset()
    graph_det.infer_raw(frames[2])
    assert np.abs(graph_det.infer_raw(frames[3]) - got[3]).max() > 1e-3  # the reset before frame 3 counted
    # a batch is consecutive frames of one stream, run one after the other through the batch-1 graph
    graph_det.reset()
    batch = graph_det.infer_raw(np.concatenate(frames[:3]))
    np.testing.assert_allclose(batch, np.concatenate(got[:3]), rtol=1e-5, atol=1e-4)
    assert len(graph_det([np.zeros((50, 70, 3), np.uint8)])) == 1  # the full call path


def test_auto_backend_compiles_a_streamyolo_checkpoint_to_cached_f32_openvino(files: dict[str, Path]) -> None:
    cache = files["root"] / "cache"
    det = load_detector(files["ckpt"], backend="auto", conf_thresh=0.0, threads=1, cache_dir=cache)
    assert det.backend.kind == "openvino" and det.backend.precision == "fp32" and det.backend.stateful
    assert "-fp32-64x96" in det.backend.source
    want = _sequence(load_detector(files["ckpt"], backend="torch", threads=1), _frames())
    for w, g in zip(want, _sequence(det, _frames())):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    onnx_det = load_detector(files["ckpt"], backend="onnx", threads=1, cache_dir=cache)
    assert onnx_det.backend.kind == "onnx" and onnx_det.backend.stateful
    with pytest.raises(ModelFileError, match="stream.pth: a StreamYOLO checkpoint cannot be exported to INT8"):
        load_detector(files["ckpt"], backend="openvino", precision="int8", cache_dir=cache)


def test_export_refuses_what_the_buffer_graph_cannot_be(files: dict[str, Path]) -> None:
    out = files["root"] / "bad"
    with pytest.raises(ValueError, match="INT8 calibration of a StreamYOLO graph is not supported"):
        export_main(["--model", str(files["ckpt"]), "--format", "openvino", "--precision", "int8",
                     "--output", str(out / "m.xml")])
    with pytest.raises(ValueError, match="a StreamYOLO exports without --fp16 or --dynamic-batch"):
        export_main(["--model", str(files["ckpt"]), "--format", "onnx", "--dynamic-batch",
                     "--output", str(out / "m.onnx")])


def test_the_device_side_buffer_follows_the_host_buffers_rule(files: dict[str, Path]) -> None:
    """backends.device_stream (the TensorRT backend's buffer, on the GPU there) driven on CPU
    tensors around the exported graph, as an engine reads and writes its bound tensors: the same
    outputs as the ONNX Runtime backend's host-side StreamBuffer, resets included."""
    import onnxruntime as ort
    import torch

    from detector.backends.device_stream import DeviceStreamBuffer

    session = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    meta = ModelMetadata.from_strings(dict(session.get_modelmeta().custom_metadata_map), source="x")
    shapes = {t.name: t.shape for t in [*session.get_inputs(), *session.get_outputs()]}
    buffer = DeviceStreamBuffer(meta, shapes, allocate=lambda shape: torch.full(shape, 7.0), source="x")
    assert buffer.names == {*BUFFER_INPUTS, *BUFFER_OUTPUTS, BUFFER_VALID}

    def engine_call(frame: np.ndarray) -> np.ndarray:
        buffer.before_call()
        feeds = {"images": frame, **{n: buffer.tensors[n].numpy() for n in (*buffer.inputs, buffer.valid)}}
        out, *features = session.run(["output", *buffer.outputs], feeds)
        for name, value in zip(buffer.outputs, features):  # the engine writes its bound outputs
            buffer.tensors[name].copy_(torch.from_numpy(value))
        buffer.after_call()
        return out

    frames = _frames()
    host = load_detector(files["onnx"], conf_thresh=0.0, threads=1).backend  # raw graph outputs
    want = []
    for i, frame in enumerate(frames):
        if i in (0, 3):
            host.reset()
        want.append(host.run(frame))
    got = []
    for i, frame in enumerate(frames):
        if i in (0, 3):
            buffer.reset()
        got.append(engine_call(frame))
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    assert buffer.tensors[BUFFER_VALID].item() == 1.0
    bad = {**shapes, BUFFER_INPUTS[0]: [1, 8, 2, 2]}
    with pytest.raises(ModelFileError, match="x: buffer 'buffer_in_0'"):
        DeviceStreamBuffer(meta, bad, allocate=torch.zeros, source="x")
    with pytest.raises(ModelFileError, match="names no feature buffer"):
        DeviceStreamBuffer(ModelMetadata(), shapes, allocate=torch.zeros, source="x")


def test_a_yolox_export_stays_stateless_with_the_official_io(tmp_path: Path) -> None:
    from detector.model import build_model

    meta = ModelMetadata(model_name="yolox_nano", classes=("a", "b"), input_size=HW)
    path = export_onnx(build_model("yolox_nano", num_classes=2), tmp_path / "plain.onnx", input_size=HW,
                       metadata=meta, opset=17)
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["images"] and [o.name for o in proto.graph.output] == ["output"]
    assert not any(p.key.startswith("buffer") for p in proto.metadata_props)
    det = load_detector(path, threads=1)
    assert not det.backend.stateful and det.forecast_frames == 0
    det.reset()  # a no-op
