"""OpenVINO backend: an IR model (.xml + .bin) written by `python -m detector.export --format openvino`.

Metadata lives in the model's rt_info under the "yolox_streaming" section (ONNX metadata_props do
not survive conversion). An IR without it is handled like an official ONNX export. Its
"precision" (fp32 / bf16 / int8, detector.quantize) sets the CPU plugin's inference precision;
`backend.precision` says what runs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.backends.base import GraphBackend, ModelFileError, ModelMetadata, StreamBuffer, import_optional

RT_INFO_SECTION = "yolox_streaming"


def import_openvino():  # noqa: ANN201 - the module type only exists when installed
    return import_optional("openvino", "OpenVINO is not installed: pip install 'yolox-streaming[openvino]'")


def read_rt_metadata(model, keys: list[str]) -> dict[str, str]:  # noqa: ANN001
    out = {}
    for key in keys:
        if model.has_rt_info([RT_INFO_SECTION, key]):
            out[key] = model.get_rt_info([RT_INFO_SECTION, key]).astype(str)
    return out


def write_rt_metadata(model, props: dict[str, str]) -> None:  # noqa: ANN001
    for key, value in props.items():
        model.set_rt_info(value, [RT_INFO_SECTION, key])


_KEYS = ["yolox_streaming_metadata", "model_name", "classes", "num_classes", "input_size", "decoded", "legacy",
         "strides", "precision", "forecast_frames", "buffer_inputs", "buffer_outputs", "buffer_valid"]


def compile_config(precision: str | None, *, half: bool = False, threads: int | None = None) -> dict:
    """The CPU plugin's configuration for a stored precision (detector.quantize.COMPILE_HINTS).

    An IR without a recorded precision (an official export, or one written before precisions
    existed) stays at f32 unless `half` asks for the plugin's reduced precision: the CPU plugin
    silently runs bf16 on CPUs that have it, and scores then move by up to 0.3 on some anchors.
    """
    from detector.quantize import COMPILE_HINTS

    config: dict = {}
    if half:
        pass  # the plugin's own choice (bf16 / f16 where the device has it)
    elif precision in COMPILE_HINTS:
        config["INFERENCE_PRECISION_HINT"] = COMPILE_HINTS[precision]
    else:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return config


def _device(device: str) -> str:
    d = device.lower()
    if d == "cpu":
        return "CPU"
    if d in ("gpu", "cuda") or d.startswith("gpu."):
        return device.upper() if d.startswith("gpu") else "GPU"
    return device  # AUTO, NPU, ... passed through as OpenVINO names them


class OpenVinoBackend(GraphBackend):
    kind = "openvino"

    def __init__(self, path: Path, *, device: str = "cpu", input_size: tuple[int, int] | None = None,
                 legacy: bool | None = None, decoded: bool | None = None, threads: int | None = None,
                 half: bool = False, precision: str | None = None) -> None:
        ov = import_openvino()
        self.source = str(path)
        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as e:  # RuntimeError with a long C++ trace for bad XML or a missing .bin
            message = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ModelFileError(f"{path}: not a loadable OpenVINO model ({message})") from None
        meta = ModelMetadata.from_strings(read_rt_metadata(model, _KEYS), source=str(path))

        def dims(partial) -> list[int | None]:  # noqa: ANN001
            return [d.get_length() if d.is_static else None for d in partial]

        image_inputs, image_outputs = list(model.inputs), list(model.outputs)
        self.stream: StreamBuffer | None = None
        if meta.buffer_inputs is not None:  # a StreamYOLO graph: the buffer in and out by name
            shapes = {i.get_any_name(): dims(i.get_partial_shape()) for i in model.inputs}
            self.stream = StreamBuffer(meta, shapes, source=str(path))
            buffers = {*self.stream.inputs, self.stream.valid}
            image_inputs = [i for i in model.inputs if i.get_any_name() not in buffers]
            image_outputs = [o for o in model.outputs if not (o.get_names() & set(self.stream.outputs))]
            self.stateful, self.forecast_frames = True, int(meta.forecast_frames or 0)
        if len(image_inputs) != 1:
            raise ModelFileError(f"{path}: expected one image input, the model has {len(image_inputs)}")

        if precision is not None:  # the caller's choice of compute precision for the float parts
            from detector.quantize import normalise_precision

            precision = normalise_precision(precision, what="precision")
            if precision == "int8" and meta.precision != "int8":
                raise ModelFileError(f"{path}: precision int8 needs an INT8 (quantized) IR; export one with "
                                     "python -m detector.export --format openvino --precision int8")
            if meta.precision != "int8":
                meta.precision = precision
        config = compile_config(meta.precision, half=half, threads=threads)
        self.threads = threads
        try:
            self.compiled = core.compile_model(model, _device(device), config)
        except Exception as e:
            message = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ModelFileError(f"{path}: OpenVINO could not compile the model for {device!r} ({message})") from None
        self.request = self.compiled.create_infer_request()
        self._input = image_inputs[0].get_any_name()
        self._output = self.compiled.output(image_outputs[0].get_any_name())
        self._buffer_outputs = [] if self.stream is None else [self.compiled.output(n) for n in self.stream.outputs]
        # What actually runs: the stored precision, or the plugin's pick when the hint was left open
        self.precision = meta.precision or ("fp32" if "INFERENCE_PRECISION_HINT" in config else
                                            _type_name(self.compiled.get_property("INFERENCE_PRECISION_HINT")))
        if self.precision == "bf16" and "BF16" not in core.get_property(_device(device), "OPTIMIZATION_CAPABILITIES"):
            self.precision = "fp32"  # the plugin falls back to f32 on CPUs without bf16
        self._configure(meta=meta, input_shape=dims(image_inputs[0].get_partial_shape()),
                        output_shape=dims(image_outputs[0].get_partial_shape()),
                        input_size=input_size, legacy=legacy, decoded=decoded)
        self.reset()  # the probe in _configure may have filled the buffer

    def reset(self) -> None:
        """A new stream (a StreamYOLO graph forgets its buffer); a no-op for stateless graphs."""
        if self.stream is not None:
            self.stream.reset()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        # share_inputs: the request reads the caller's (contiguous float32) batch without a copy
        feed = {self._input: np.ascontiguousarray(batch, dtype=np.float32)}
        if self.stream is not None:  # fixed batch 1: Backend.run calls once per frame, in order
            feed.update(self.stream.feeds())
        result = self.request.infer(feed, share_inputs=True)
        if self.stream is not None:
            self.stream.keep([result[o] for o in self._buffer_outputs])  # keep() copies
        return np.array(result[self._output], copy=True)  # the request reuses its output buffer

    def __repr__(self) -> str:
        return f"OpenVinoBackend({self.source!r}, precision={self.precision})"


def _type_name(element_type) -> str:  # noqa: ANN001
    name = str(element_type).lower()
    return {"f32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16", "f16": "fp16",
            "float16": "fp16"}.get(name.split("'")[1] if "'" in name else name, name)
