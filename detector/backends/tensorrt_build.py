"""Building TensorRT engines from our ONNX files, on TensorRT 10 and 11; version rules as pure functions.

TensorRT 11 removed weak typing: no BuilderFlag.FP16/INT8/BF16/FP8/INT4/FP4, no precision-constraint
flags, no platform_has_fast_fp16/int8, no calibrators. Every network is strongly typed, so a layer
runs in the type its ONNX tensors have, and the precision of an engine is the precision of its graph:

| asked | graph needed                  | TensorRT 11             | TensorRT 10                         |
|-------|-------------------------------|-------------------------|-------------------------------------|
| fp32  | FP32 export                   | strongly typed          | weakly typed, no flags              |
| fp16  | FP16 export (--fp16)          | strongly typed          | weakly typed + BuilderFlag.FP16     |
|       | FP32 export                   | error: export --fp16    | weakly typed + BuilderFlag.FP16     |
| int8  | explicit Q/DQ (e.g. ModelOpt) | strongly typed          | strongly typed (Q/DQ types it)      |

INT8 is an option only through explicit quantization: a graph with QuantizeLinear/DequantizeLinear
nodes (NVIDIA ModelOpt `modelopt.onnx.quantization`, or a QAT export). Calibrating here would need
the calibrator API TensorRT 11 removed, so asking for int8 on a graph without Q/DQ is an error.

An engine only runs on the TensorRT version that built it (same major.minor.patch), so the sidecar
records `tensorrt_version` and the loader compares it before deserializing (`check_engine_version`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from detector.backends.base import BackendUnavailable, ModelFileError, ModelMetadata, import_optional

STRONGLY_TYPED_ONLY_MAJOR = 11  # first TensorRT major without weak typing
OLDEST_SUPPORTED_MAJOR = 10  # named I/O tensors and execute_async_v3


def import_tensorrt():  # noqa: ANN201 - the module type only exists when installed
    return import_optional("tensorrt", "TensorRT is not installed: install the NVIDIA TensorRT 10 or 11 Python "
                                       "wheel (pip install tensorrt) on a machine with a CUDA GPU")


def parse_version(text: str) -> tuple[int, ...]:
    """'10.3.0.26' -> (10, 3, 0, 26); a malformed string is an error naming it."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)*)(?:[.+-].*)?\s*", str(text))
    if match is None:
        raise ValueError(f"not a TensorRT version: {text!r}")
    return tuple(int(p) for p in match.group(1).split("."))


def same_engine_version(built: str, running: str) -> bool:
    # The build number (4th part) differs between wheels of one release that share an engine format.
    return parse_version(built)[:3] == parse_version(running)[:3]


def check_engine_version(engine_path: str | Path, built: str | None, running: str) -> None:
    """One-line error when an engine's sidecar says another TensorRT version built it."""
    if built is None or same_engine_version(built, running):
        return
    raise ModelFileError(f"{engine_path}: engine built by TensorRT {built}, but this is TensorRT {running}; "
                         f"engines do not move between versions, rebuild it here with python -m detector.export "
                         f"--format engine")


@dataclass(frozen=True)
class BuildPlan:
    """How to build: network typing and builder flags for one (precision, TensorRT, graph) case."""

    precision: str
    strongly_typed: bool
    fp16_flag: bool


def plan_build(precision: str, *, trt_version: str, graph_precision: str, has_fp16_flag: bool,
               source: str = "model.onnx") -> BuildPlan:
    """The table in the module docstring as a function; errors name the file and what to do."""
    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"precision must be fp32, fp16 or int8, got {precision!r}")
    major = parse_version(trt_version)[0]
    if major < OLDEST_SUPPORTED_MAJOR:
        raise BackendUnavailable(f"TensorRT {trt_version} is too old: this backend needs TensorRT 10 or newer")
    if precision == "int8":
        if graph_precision != "int8":
            raise ModelFileError(f"{source}: INT8 needs an explicitly quantized graph (QuantizeLinear/"
                                 f"DequantizeLinear nodes, e.g. from NVIDIA ModelOpt); this graph has none, and "
                                 f"TensorRT {major} has no calibrator path here")
        return BuildPlan("int8", strongly_typed=True, fp16_flag=False)
    if graph_precision == "int8":
        raise ModelFileError(f"{source}: the graph is quantized (Q/DQ nodes); build it with precision int8")
    if precision == "fp32":
        if graph_precision != "fp32":
            raise ModelFileError(f"{source}: an FP32 engine needs an FP32 graph, this one is {graph_precision}")
        return BuildPlan("fp32", strongly_typed=major >= STRONGLY_TYPED_ONLY_MAJOR, fp16_flag=False)
    if major >= STRONGLY_TYPED_ONLY_MAJOR or not has_fp16_flag:
        if graph_precision != "fp16":
            raise ModelFileError(f"{source}: TensorRT {trt_version} builds FP16 only from an FP16 graph (strongly "
                                 f"typed); export it with python -m detector.export --format onnx --fp16")
        return BuildPlan("fp16", strongly_typed=True, fp16_flag=False)
    return BuildPlan("fp16", strongly_typed=False, fp16_flag=True)


def engine_sidecar(metadata: ModelMetadata, *, precision: str, trt_version: str) -> dict[str, str]:
    """The strings written beside an engine: the model's metadata, its precision and the builder's version."""
    meta = ModelMetadata(**{**vars(metadata), "precision": precision})
    return {**meta.to_strings(), "tensorrt_version": str(trt_version)}


def read_sidecar(path: Path) -> tuple[ModelMetadata, str | None]:
    """(metadata, tensorrt_version or None) from `<engine>.json`; no file -> empty metadata."""
    if not path.is_file():
        return ModelMetadata(), None
    try:
        props = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{path}: engine metadata is not valid JSON ({e})") from None
    if not isinstance(props, dict):
        raise ModelFileError(f"{path}: engine metadata must be a JSON object")
    strings = {k: str(v) for k, v in props.items()}
    return ModelMetadata.from_strings(strings, source=str(path)), strings.get("tensorrt_version")


def sidecar_path(engine_path: str | Path) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def onnx_graph_info(onnx_path: Path) -> tuple[str, ModelMetadata]:
    """(graph precision from its contents, metadata) of an ONNX file."""
    import onnx

    from detector.export_fp16 import graph_precision

    proto = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in proto.metadata_props}
    return graph_precision(proto), ModelMetadata.from_strings(props, source=str(onnx_path))


def build_engine(onnx_path: str | Path, engine_path: str | Path, *, precision: str = "fp16", max_batch: int = 1,
                 workspace_gib: float = 4.0, metadata: ModelMetadata | None = None) -> Path:
    """Build and serialize an engine from an ONNX file, with its metadata sidecar; see the module table."""
    trt = import_tensorrt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    graph_precision, file_meta = onnx_graph_info(onnx_path)
    plan = plan_build(precision, trt_version=trt.__version__, graph_precision=graph_precision,
                      has_fp16_flag=hasattr(trt.BuilderFlag, "FP16"), source=str(onnx_path))
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if plan.strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)  # explicit batch is the only mode since TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"{onnx_path}: TensorRT could not parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if plan.fp16_flag and hasattr(trt.BuilderFlag, "FP16"):  # TensorRT 10 only; gone in 11
        config.set_flag(trt.BuilderFlag.FP16)
    image = network.get_input(0)
    shape = tuple(image.shape)
    if shape[0] == -1:  # dynamic batch: one profile from 1 to max_batch
        profile = builder.create_optimization_profile()
        top = (max(int(max_batch), 1), *shape[1:])
        profile.set_shape(image.name, (1, *shape[1:]), top, top)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError(f"{onnx_path}: TensorRT failed to build an engine (see the log above)")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    meta = metadata if metadata is not None else file_meta
    sidecar = engine_sidecar(meta, precision=plan.precision, trt_version=trt.__version__)
    sidecar_path(engine_path).write_text(json.dumps(sidecar, indent=1))
    return engine_path
