"""OpenVINO backend: an IR model (.xml + .bin) written by `python -m detector.export --format openvino`.

Metadata lives in the model's rt_info under the "yolox_streaming" section (ONNX metadata_props do
not survive conversion). An IR without it is handled like an official ONNX export.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.backends.base import GraphBackend, ModelFileError, ModelMetadata, import_optional

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
         "strides"]


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
                 half: bool = False) -> None:
        ov = import_openvino()
        self.source = str(path)
        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as e:  # RuntimeError with a long C++ trace for bad XML or a missing .bin
            message = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ModelFileError(f"{path}: not a loadable OpenVINO model ({message})") from None
        if len(model.inputs) != 1:
            raise ModelFileError(f"{path}: expected one image input, the model has {len(model.inputs)}")
        meta = ModelMetadata.from_strings(read_rt_metadata(model, _KEYS), source=str(path))

        def dims(partial) -> list[int | None]:  # noqa: ANN001
            return [d.get_length() if d.is_static else None for d in partial]

        # OpenVINO's CPU plugin silently runs bf16 on CPUs that have it; scores then move by up to
        # 0.3 on some anchors. Keep f32 unless reduced precision is asked for.
        config: dict = {} if half else {"INFERENCE_PRECISION_HINT": "f32"}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self.compiled = core.compile_model(model, _device(device), config)
        except Exception as e:
            message = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ModelFileError(f"{path}: OpenVINO could not compile the model for {device!r} ({message})") from None
        self.request = self.compiled.create_infer_request()
        self._output = self.compiled.output(0)
        self._configure(meta=meta, input_shape=dims(model.input(0).get_partial_shape()),
                        output_shape=dims(model.output(0).get_partial_shape()),
                        input_size=input_size, legacy=legacy, decoded=decoded)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        result = self.request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.array(result[self._output], copy=True)  # the request reuses its output buffer
