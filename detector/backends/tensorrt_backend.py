"""TensorRT 10 backend (.engine) and engine building from ONNX; GPU machines only.

Written against the TensorRT 10 Python API (named I/O tensors, `execute_async_v3`). Device memory and
the CUDA stream come from torch.cuda, so no pycuda / cuda-python is needed. A serialized engine has
no room for our metadata, so it sits beside it in `<file>.engine.json` (the ModelMetadata strings);
an engine without that file is handled like an official ONNX export (probe for decoded output).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from detector.backends.base import BackendUnavailable, GraphBackend, ModelFileError, ModelMetadata


def import_tensorrt():  # noqa: ANN201
    try:
        import tensorrt as trt
    except ImportError as e:
        raise BackendUnavailable(f"TensorRT is not installed: install the NVIDIA TensorRT 10 Python wheel "
                                 f"(pip install tensorrt) on a machine with a CUDA GPU ({e})") from None
    return trt


def _cuda_torch():  # noqa: ANN201
    try:
        import torch
    except ImportError as e:
        raise BackendUnavailable(f"the TensorRT backend uses torch.cuda for device memory ({e})") from None
    if not torch.cuda.is_available():
        raise BackendUnavailable("the TensorRT backend needs a CUDA GPU, but torch.cuda.is_available() is False")
    return torch


def sidecar_path(engine_path: str | Path) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def _torch_dtype(trt: Any, torch: Any, dtype: Any) -> Any:
    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16, trt.DataType.INT32: torch.int32}
    if dtype not in table:
        raise ModelFileError(f"unsupported TensorRT tensor type {dtype}")
    return table[dtype]


class TensorRTBackend(GraphBackend):
    kind = "tensorrt"

    def __init__(self, path: Path, *, device: str = "cuda", input_size: tuple[int, int] | None = None,
                 legacy: bool | None = None, decoded: bool | None = None) -> None:
        trt = import_tensorrt()
        torch = _cuda_torch()
        self.source = str(path)
        self._trt, self._torch = trt, torch
        self.device = torch.device(device if device.startswith("cuda") else "cuda")
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self.engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise ModelFileError(f"{path}: not a TensorRT engine built by this TensorRT version "
                                 f"({trt.__version__}) for this GPU")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        ins = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(ins) != 1 or not outs:
            raise ModelFileError(f"{path}: expected one image input and an output, got inputs {ins} outputs {outs}")
        self.input_name, self.output_name = ins[0], ("output" if "output" in outs else outs[0])
        self._extra_outputs = [n for n in outs if n != self.output_name]
        in_shape = [d if d >= 0 else None for d in self.engine.get_tensor_shape(self.input_name)]
        out_shape = [d if d >= 0 else None for d in self.engine.get_tensor_shape(self.output_name)]
        if in_shape and in_shape[0] is None:
            _, _, max_shape = self.engine.get_tensor_profile_shape(self.input_name, 0)
            self.max_batch = int(max_shape[0])
        meta = ModelMetadata()
        side = sidecar_path(path)
        if side.is_file():
            try:
                props = json.loads(side.read_text())
            except json.JSONDecodeError as e:
                raise ModelFileError(f"{side}: engine metadata is not valid JSON ({e})") from None
            meta = ModelMetadata.from_strings({k: str(v) for k, v in props.items()}, source=str(side))
        self._configure(meta=meta, input_shape=in_shape, output_shape=out_shape, input_size=input_size,
                        legacy=legacy, decoded=decoded)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        torch, trt, ctx = self._torch, self._trt, self.context
        in_dtype = _torch_dtype(trt, torch, self.engine.get_tensor_dtype(self.input_name))
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).to(in_dtype).contiguous()
        if not ctx.set_input_shape(self.input_name, tuple(x.shape)):
            raise ModelFileError(f"{self.source}: the engine does not accept an input of shape {tuple(x.shape)}")
        ctx.set_tensor_address(self.input_name, x.data_ptr())
        buffers = {}
        for name in [self.output_name, *self._extra_outputs]:
            shape = tuple(ctx.get_tensor_shape(name))
            dtype = _torch_dtype(trt, torch, self.engine.get_tensor_dtype(name))
            buffers[name] = torch.empty(shape, dtype=dtype, device=self.device)
            ctx.set_tensor_address(name, buffers[name].data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not ctx.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"{self.source}: TensorRT execution failed")
        stream.synchronize()
        return buffers[self.output_name].float().cpu().numpy()


def build_engine(onnx_path: str | Path, engine_path: str | Path, *, fp16: bool = True, max_batch: int = 1,
                 workspace_gib: float = 4.0, metadata: dict[str, str] | None = None) -> Path:
    """Build and serialize an engine from an ONNX file (FP16 by default), with its metadata sidecar."""
    trt = import_tensorrt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"{onnx_path}: TensorRT could not parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if fp16:
        if not getattr(builder, "platform_has_fast_fp16", True):  # deprecated in late 10.x releases
            print("warning: this GPU has no fast FP16; building the engine anyway")
        config.set_flag(trt.BuilderFlag.FP16)
    image = network.get_input(0)
    shape = tuple(image.shape)
    if shape[0] == -1:  # dynamic batch: one profile from 1 to max_batch
        profile = builder.create_optimization_profile()
        one = (1, *shape[1:])
        top = (max(int(max_batch), 1), *shape[1:])
        profile.set_shape(image.name, one, top, top)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError(f"{onnx_path}: TensorRT failed to build an engine (see the log above)")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    if metadata is not None:
        sidecar_path(engine_path).write_text(json.dumps(metadata, indent=1))
    return engine_path
