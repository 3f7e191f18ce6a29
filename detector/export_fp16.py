"""Mixed-precision (FP16) ONNX: float16 weights and activations, float32 inputs, outputs and head tail.

    python -m detector.export --model yolox_s.pth --format onnx --fp16 --output yolox_s_fp16.onnx

TensorRT 11 builds strongly typed networks only: the precision of every layer is the type of its
tensors in the ONNX graph, so an FP16 engine needs an FP16 graph (TensorRT 10 could take an FP32
graph and an FP16 builder flag). The conversion is onnxconverter-common's
`convert_float_to_float16` with `keep_io_types` (the `images` input and `output` stay float32, so
callers need not change) and a block list of nodes that stay float32:

- the converter's default op block list (Resize keeps float32 scales, and so on);
- the *head tail*: every node between the last convolutions and the graph output (sigmoid of
  obj/cls, the per-level and final concats, the transpose, and with --decode the box decode).
  Scores are compared to thresholds of 0.01, and decoded centres reach the input width (640 px,
  where float16 steps by 0.5 px) and `exp` overflows float16 above 11; all of that is cheap, so
  it stays in float32, and the convolutions, where the time goes, run in float16.

The tail is found from the graph (walk back from the output until a Conv), not from node names,
so the same rule holds for the dynamo and the TorchScript exporters' graphs.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from detector.backends.base import ModelFileError, ModelMetadata, import_optional


def import_float16():  # noqa: ANN201
    return import_optional("onnxconverter_common.float16", "FP16 ONNX export needs onnxconverter-common: pip install "
                                                           "'yolox-streaming[fp16]' (or onnxconverter-common)")


def head_tail_nodes(proto: Any) -> list[str]:
    """Names of the nodes that compute the graph outputs from the last Conv outputs (not the Convs)."""
    producer = {name: node for node in proto.graph.node for name in node.output}
    tail: dict[str, None] = {}  # insertion-ordered set: a stable block list
    stack = [out.name for out in proto.graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in tail or node.op_type == "Conv":
            continue
        if not node.name:
            raise ModelFileError("the ONNX graph has unnamed nodes; the FP16 converter blocks nodes by name")
        tail[node.name] = None
        stack.extend(node.input)
    return list(tail)


def _float32_outputs(proto: Any) -> None:
    """Make sure the graph outputs are float32.

    onnxconverter-common 1.16 ends a blocked last node with a Cast back to float16 and then drops
    the keep_io_types Cast as redundant, so the output comes out float16 despite keep_io_types.
    Turning that final Cast into a float32 Cast restores the promised interface.
    """
    from onnx import TensorProto

    producer = {name: node for node in proto.graph.node for name in node.output}
    for out in proto.graph.output:
        if out.type.tensor_type.elem_type == TensorProto.FLOAT:
            continue
        node = producer.get(out.name)
        if node is None or node.op_type != "Cast":
            raise ModelFileError(f"FP16 conversion left output {out.name!r} as type "
                                 f"{out.type.tensor_type.elem_type}, not float32")
        for attr in node.attribute:
            if attr.name == "to":
                attr.i = TensorProto.FLOAT
        out.type.tensor_type.elem_type = TensorProto.FLOAT


def convert_proto_to_fp16(proto: Any) -> Any:
    """An FP32 YOLOX ONNX ModelProto -> its mixed-precision version (a new proto)."""
    float16 = import_float16()
    block = head_tail_nodes(proto)
    with warnings.catch_warnings():
        # One warning per weight below float16's range (truncated to 1e-7): BatchNorm-folded tails
        # of trained weights, harmless, and the agreement tests check the result as a whole.
        warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
        fp16 = float16.convert_float_to_float16(proto, keep_io_types=True,
                                                op_block_list=float16.DEFAULT_OP_BLOCK_LIST, node_block_list=block)
    _float32_outputs(fp16)
    return fp16


def convert_onnx_to_fp16(src: str | Path, dst: str | Path) -> Path:
    """Convert an FP32 ONNX file written by detector.export; the metadata gains precision "fp16"."""
    import onnx

    src, dst = Path(src), Path(dst)
    proto = onnx.load(str(src))
    props = {p.key: p.value for p in proto.metadata_props}
    meta = ModelMetadata.from_strings(props, source=str(src))
    if meta.precision not in (None, "fp32"):
        raise ModelFileError(f"{src}: the graph is already {meta.precision}; convert an FP32 export")
    fp16 = convert_proto_to_fp16(proto)
    props["precision"] = "fp16"
    del fp16.metadata_props[:]
    onnx.helper.set_model_props(fp16, props)
    onnx.checker.check_model(fp16)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(fp16, str(dst))
    return dst


def graph_precision(proto: Any) -> str:
    """What a graph computes in, from its contents: "int8" with Q/DQ nodes, "fp16" with float16
    initializers, else "fp32". Used where metadata is missing (official exports, other tools)."""
    from onnx import TensorProto

    if any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in proto.graph.node):
        return "int8"
    if any(init.data_type == TensorProto.FLOAT16 for init in proto.graph.initializer):
        return "fp16"
    return "fp32"
