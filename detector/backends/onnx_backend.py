"""ONNX Runtime backend: our exported files (with metadata) and official YOLOX exports (without)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.backends.base import GraphBackend, ModelFileError, ModelMetadata, StreamBuffer


def _dims(shape: list) -> list[int | None]:
    # ONNX Runtime reports dynamic dimensions as strings ("batch") or None.
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise ModelFileError(f"device {device!r} requested but this onnxruntime build has no "
                                 f"CUDAExecutionProvider (available: {', '.join(available)})")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "cpu":
        raise ModelFileError(f"unknown device {device!r} for ONNX Runtime (expected 'cpu' or 'cuda')")
    return ["CPUExecutionProvider"]


class OnnxBackend(GraphBackend):
    kind = "onnx"

    def __init__(self, path: Path, *, device: str = "cpu", input_size: tuple[int, int] | None = None,
                 legacy: bool | None = None, decoded: bool | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.source = str(path)
        self.threads = threads
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3  # ORT prints warnings about unused initialisers on some exports
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=_providers(device))
        except ModelFileError:
            raise
        except Exception as e:  # ORT raises its own Fail/InvalidProtobuf/InvalidGraph types
            message = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ModelFileError(f"{path}: not a loadable ONNX model ({message})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        meta = ModelMetadata.from_strings(props, source=str(path))
        self.stream: StreamBuffer | None = None
        if meta.buffer_inputs is not None:  # a StreamYOLO graph: the buffer in and out by name
            self.stream = StreamBuffer(meta, {i.name: _dims(i.shape) for i in inputs}, source=str(path))
            buffers = {*self.stream.inputs, self.stream.valid}
            inputs = [i for i in inputs if i.name not in buffers]
            outputs = [o for o in outputs if o.name not in self.stream.outputs]
            self.stateful, self.forecast_frames = True, int(meta.forecast_frames or 0)
        if len(inputs) != 1:
            raise ModelFileError(f"{path}: expected one image input, the graph has {len(inputs)}")
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        self._configure(meta=meta, input_shape=_dims(inputs[0].shape), output_shape=_dims(outputs[0].shape),
                        input_size=input_size, legacy=legacy, decoded=decoded)
        self.reset()  # the probe in _configure may have filled the buffer

    def reset(self) -> None:
        """A new stream (a StreamYOLO graph forgets its buffer); a no-op for stateless graphs."""
        if self.stream is not None:
            self.stream.reset()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        if self.stream is None:
            return self.session.run([self.output_name], feed)[0]
        feed.update(self.stream.feeds())  # fixed batch 1: Backend.run calls once per frame, in order
        out, *buffers = self.session.run([self.output_name, *self.stream.outputs], feed)
        self.stream.keep(buffers)
        return out
