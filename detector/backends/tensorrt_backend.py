"""TensorRT backend (.engine, TensorRT 10 or 11); GPU machines only. Building lives in tensorrt_build.

Uses the runtime API both versions share (named I/O tensors, `set_input_shape`,
`set_tensor_address`, `execute_async_v3`). Device memory and the CUDA stream come from torch.cuda,
so no pycuda / cuda-python is needed. A serialized engine has no room for our metadata, so it sits
beside it in `<file>.engine.json` (ModelMetadata strings plus `precision` and `tensorrt_version`);
an engine without that file is handled like an official ONNX export (probe for decoded output).

Frames take the GPU path (`run_frames`, used by detector.api.Detector): each uint8 frame is uploaded
once and letterboxed on the GPU (backends.torch_letterbox) into a persistent input buffer; the
engine writes into persistent output buffers; the head output stays on the GPU, where
detector.postprocess decodes and thresholds it, so only the surviving candidates are copied back.
The execution context and the buffers are allocated once per batch shape and reused across frames.

A StreamYOLO engine (built from detector.export_stream's graph; its sidecar names the buffer) is
stateful with batch 1: its feature buffer stays on the GPU (backends.device_stream), so a frame
costs one engine call and no extra transfer.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.backends.base import BackendUnavailable, GraphBackend, ModelFileError
from detector.backends.device_stream import DeviceStreamBuffer
from detector.backends.tensorrt_build import check_engine_version, import_tensorrt, read_sidecar, sidecar_path
from detector.preprocess import FrameError, check_frame

__all__ = ["TensorRTBackend", "import_tensorrt", "sidecar_path"]


def _cuda_torch():  # noqa: ANN201
    try:
        import torch
    except ImportError as e:
        raise BackendUnavailable(f"the TensorRT backend uses torch.cuda for device memory ({e})") from None
    if not torch.cuda.is_available():
        raise BackendUnavailable("the TensorRT backend needs a CUDA GPU, but torch.cuda.is_available() is False")
    return torch


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
        meta, built_by = read_sidecar(sidecar_path(path))
        check_engine_version(path, built_by, trt.__version__)  # before deserializing: its error is vague
        self.precision = meta.precision
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
        self._stream: DeviceStreamBuffer | None = None
        if meta.buffer_inputs is not None:
            self._stream = self._stream_buffer(meta, names)
            ins = [n for n in ins if n not in self._stream.names]
            outs = [n for n in outs if n not in self._stream.names]
            self.stateful, self.forecast_frames, self.fixed_batch = True, int(meta.forecast_frames or 0), 1
        if len(ins) != 1 or not outs:
            raise ModelFileError(f"{path}: expected one image input and an output, got inputs {ins} outputs {outs}")
        self.input_name, self.output_name = ins[0], ("output" if "output" in outs else outs[0])
        self._extra_outputs = [n for n in outs if n != self.output_name]
        in_shape = [d if d >= 0 else None for d in self.engine.get_tensor_shape(self.input_name)]
        out_shape = [d if d >= 0 else None for d in self.engine.get_tensor_shape(self.output_name)]
        if in_shape and in_shape[0] is None:
            _, _, max_shape = self.engine.get_tensor_profile_shape(self.input_name, 0)
            self.max_batch = int(max_shape[0])
        self._in_dtype = _torch_dtype(trt, torch, self.engine.get_tensor_dtype(self.input_name))
        self._buffers: dict[str, Any] = {}  # tensor name -> device buffer of the current batch shape
        self._shape: tuple[int, ...] | None = None
        self._frame_shape: tuple[int, ...] | None = None  # upload buffers, see _upload
        self._configure(meta=meta, input_shape=in_shape, output_shape=out_shape, input_size=input_size,
                        legacy=legacy, decoded=decoded)
        self.reset()  # a probe in _configure may have filled the buffer

    def _stream_buffer(self, meta: Any, names: list[str]) -> DeviceStreamBuffer:
        torch = self._torch
        shapes = {n: tuple(self.engine.get_tensor_shape(n)) for n in names}
        buffer = DeviceStreamBuffer(meta, shapes, source=self.source,
                                    allocate=lambda shape: torch.zeros(shape, dtype=torch.float32, device=self.device))
        for name in buffer.names:
            if _torch_dtype(self._trt, torch, self.engine.get_tensor_dtype(name)) != torch.float32:
                raise ModelFileError(f"{self.source}: buffer tensor {name!r} must be float32")
        return buffer

    def reset(self) -> None:
        """A new stream (a StreamYOLO engine forgets its buffer); a no-op for stateless engines."""
        if self._stream is not None:
            self._stream.reset()

    def _bind(self, batch: int) -> Any:
        """The input buffer for `batch` frames; (re)allocates and binds all buffers when the shape changes."""
        torch, trt, ctx = self._torch, self._trt, self.context
        shape = (batch, 3, *self.input_size)
        if shape != self._shape:
            if not ctx.set_input_shape(self.input_name, shape):
                raise ModelFileError(f"{self.source}: the engine does not accept an input of shape {shape}")
            self._buffers = {self.input_name: torch.empty(shape, dtype=self._in_dtype, device=self.device)}
            for name in [self.output_name, *self._extra_outputs]:
                dtype = _torch_dtype(trt, torch, self.engine.get_tensor_dtype(name))
                self._buffers[name] = torch.empty(tuple(ctx.get_tensor_shape(name)), dtype=dtype, device=self.device)
            bound = {**self._buffers, **(self._stream.tensors if self._stream is not None else {})}
            for name, buf in bound.items():
                ctx.set_tensor_address(name, buf.data_ptr())
            self._shape = shape
        return self._buffers[self.input_name]

    def _execute(self) -> Any:
        """Run the engine on the bound input; the output buffer (on the GPU, valid until the next call)."""
        stream = self._torch.cuda.current_stream(self.device)
        if self._stream is not None:
            self._stream.before_call()  # enqueued on the current stream, ahead of the engine
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"{self.source}: TensorRT execution failed")
        if self._stream is not None:
            self._stream.after_call()
        return self._buffers[self.output_name]

    def run_network_only(self, batch: int = 1) -> None:
        """The engine alone on whatever the bound input holds, synchronised (bare-network latency)."""
        self._bind(batch)
        self._execute()
        self._torch.cuda.current_stream(self.device).synchronize()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        x = self._bind(batch.shape[0])
        x.copy_(self._torch.from_numpy(np.ascontiguousarray(batch)))
        return self._execute().float().cpu().numpy()  # .cpu() synchronises the stream

    def _upload(self, frame: np.ndarray) -> Any:
        """A uint8 frame on the GPU, through a pinned host buffer; both buffers are kept while the frame
        size stays the same (a stream's frames all share one)."""
        torch = self._torch
        if self._frame_shape != frame.shape:
            self._host_frame = torch.empty(frame.shape, dtype=torch.uint8).pin_memory()
            self._device_frame = torch.empty(frame.shape, dtype=torch.uint8, device=self.device)
            self._frame_shape = frame.shape
        self._host_frame.numpy()[...] = frame
        # Blocking: the next frame overwrites the pinned buffer, so this copy must be done by then.
        self._device_frame.copy_(self._host_frame)
        return self._device_frame

    def run_frames(self, frames: Sequence[np.ndarray]) -> tuple[Any, np.ndarray, list[tuple[int, int]]]:
        """BGR uint8 frames -> (head output [B, N, 5 + C] float32 on the GPU, ratios (B,), (h, w) sizes).

        A copy of the output: the persistent buffer is overwritten by the next call.
        """
        from detector.backends.torch_letterbox import letterbox_torch

        torch = self._torch
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            raise FrameError("expected a list of frames, got a single (H, W, 3) array; wrap it in a list")
        if len(frames) == 0:
            raise FrameError("expected at least one frame, got an empty list")
        k = self.fixed_batch or self.max_batch or len(frames)
        outputs, ratios, sizes = [], [], []
        for start in range(0, len(frames), k):
            chunk = list(frames[start:start + k])
            n = len(chunk)
            x = self._bind(self.fixed_batch or n)
            for i, frame in enumerate(chunk):
                check_frame(frame, index=start + i)
                gpu = self._upload(frame)
                direct = x.dtype == torch.float32  # an FP16-input engine needs a float32 staging slot
                slot = x[i] if direct else torch.empty(x.shape[1:], dtype=torch.float32, device=self.device)
                _, r = letterbox_torch(gpu, self.input_size, out=slot, legacy=self.legacy)
                if not direct:
                    x[i].copy_(slot)
                ratios.append(r)
                sizes.append((int(frame.shape[0]), int(frame.shape[1])))
            for i in range(n, x.shape[0]):  # pad a fixed-batch engine with the last frame
                x[i].copy_(x[n - 1])
            outputs.append(self._execute()[:n].float().clone())
        return torch.cat(outputs), np.asarray(ratios, dtype=np.float64), sizes
