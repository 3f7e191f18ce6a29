"""Mixed-precision ONNX export: float16 weights, float32 interface and head tail, and detections on
real street frames that agree with the FP32 export through ONNX Runtime."""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto

pytest.importorskip("onnxconverter_common", reason="FP16 export needs onnxconverter-common (test extra)")

from detector.agreement import agreement  # noqa: E402
from detector.api import load_detector  # noqa: E402
from detector.backends.base import ModelFileError, ModelMetadata  # noqa: E402
from detector.export import export_onnx, main as export_main  # noqa: E402
from detector.export_fp16 import convert_onnx_to_fp16, graph_precision, head_tail_nodes  # noqa: E402
from detector.checkpoint import load_model  # noqa: E402
from streaming.detect import demo_model_path  # noqa: E402
from tests.support.street_clip import street_frames  # noqa: E402

SIZE = (288, 640)  # the clip is 272x640: little padding, full width
MIN_IOU, MAX_SCORE_DIFF = 0.95, 0.02
CONF = 0.1  # below the demo threshold: more boxes to compare


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """FP32 and FP16 exports of the bundled demo model through the CLI, and a decoded FP32 export.

    The demo model is trained (on the synthetic world, 8 Argoverse-HD classes) and finds people, bikes
    and cars in the street clip; a random network is chaotic enough that float16 rounding moves its
    scores by several hundredths, which says nothing about trained YOLOX weights.
    """
    root = tmp_path_factory.mktemp("fp16")
    demo = demo_model_path()
    common = ["--model", str(demo), "--format", "onnx", "--input-size", *map(str, SIZE)]
    export_main([*common, "--output", str(root / "fp32.onnx")])
    export_main([*common, "--fp16", "--output", str(root / "fp16.onnx")])
    model, stored = load_model(demo)
    meta = ModelMetadata(model_name="yolox_nano", classes=tuple(stored.classes), input_size=SIZE)
    export_onnx(model, root / "decoded.onnx", input_size=SIZE, metadata=meta, decode=True)
    return {"fp32": root / "fp32.onnx", "fp16": root / "fp16.onnx", "decoded": root / "decoded.onnx", "root": root,
            "classes": tuple(stored.classes)}


def test_fp16_file_has_half_weights_float_io_and_metadata(files: dict[str, Path]) -> None:
    proto = onnx.load(str(files["fp16"]))
    onnx.checker.check_model(proto)
    floats = [i for i in proto.graph.initializer if i.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    assert floats and all(i.data_type == TensorProto.FLOAT16 for i in floats if len(i.dims) == 4)  # conv weights
    assert sum(i.data_type == TensorProto.FLOAT16 for i in floats) > 0.9 * len(floats)
    io = [*proto.graph.input, *proto.graph.output]
    assert [(v.name, v.type.tensor_type.elem_type) for v in io] == [("images", TensorProto.FLOAT),
                                                                    ("output", TensorProto.FLOAT)]
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["precision"] == "fp16" and json.loads(props["classes"]) == list(files["classes"])
    assert graph_precision(proto) == "fp16" and graph_precision(onnx.load(str(files["fp32"]))) == "fp32"
    det = load_detector(files["fp16"])
    assert det.backend.decoded is False and det.classes == files["classes"]


def test_head_tail_stays_float32(files: dict[str, Path]) -> None:
    """Sigmoid scores, concats and the in-graph decode (exp) compute in float32 after conversion."""
    fp32 = onnx.load(str(files["decoded"]))
    tail = set(head_tail_nodes(fp32))
    assert {"Exp", "Sigmoid", "Concat"} <= {n.op_type for n in fp32.graph.node if n.name in tail}
    assert "Conv" not in {n.op_type for n in fp32.graph.node if n.name in tail}
    fp16_path = convert_onnx_to_fp16(files["decoded"], files["root"] / "decoded_fp16.onnx")
    proto = onnx.shape_inference.infer_shapes(onnx.load(str(fp16_path)))
    types = {v.name: v.type.tensor_type.elem_type for v in [*proto.graph.value_info, *proto.graph.output]}
    for node in proto.graph.node:
        if node.op_type in ("Exp", "Sigmoid") and node.name in tail:
            assert types[node.output[0]] == TensorProto.FLOAT, node.name
    with pytest.raises(ModelFileError, match="already fp16"):
        convert_onnx_to_fp16(fp16_path, files["root"] / "twice.onnx")


@pytest.mark.parametrize("key", ["fp16", "decoded"])
def test_fp16_detections_match_fp32_on_street_frames(files: dict[str, Path], key: str) -> None:
    frames = street_frames(count=8, step=20)
    src = files[key] if key == "fp16" else convert_onnx_to_fp16(files["decoded"], files["root"] / "dec16.onnx")
    # The FP16 side gets a threshold MAX_SCORE_DIFF lower, so that an FP32 box just above CONF is not
    # lost to a score difference the tolerance allows.
    ref_det = load_detector(files["fp32"], conf_thresh=CONF)
    half_det = load_detector(src, conf_thresh=CONF - MAX_SCORE_DIFF)
    ref, half = ref_det(frames), half_det(frames)
    result = agreement(ref, half)
    print(f"{key}: {result}")
    assert result.boxes >= 30  # the comparison means something
    assert result.within(MIN_IOU, MAX_SCORE_DIFF), result
