"""What every inference backend provides, and the metadata model files carry.

A backend turns a preprocessed batch (float32 [B, 3, H, W]) into the head output [B, N, 5 + C]
(sigmoid scores; boxes decoded or raw as `decoded` says). Everything else - letterboxing,
thresholds, NMS, class names - lives in detector.api.Detector and is shared by all backends.

Exported graphs (ONNX, OpenVINO, TensorRT) and checkpoints written here (detector.checkpoint)
carry `ModelMetadata`; a graph without it (an ONNX file from the official YOLOX exporter) gets
what the graph itself tells (input size, number of classes) and a one-frame probe that tells
decoded from raw output; a checkpoint without it (an official release) gets its zoo entry's.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.grid import STRIDES, anchor_centres, cached_grid

METADATA_VERSION = "1"
# The size a model runs at when neither the caller, its file nor the zoo says otherwise.
DEFAULT_INPUT_SIZE = (640, 640)
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(cores: int | None = None) -> int:
    """Intra-op threads per inference when the caller does not say. Measured latency is the
    benchmark's number, so it must not depend on who else is busy: with two intra-op threads on
    a 2-core machine that is also decoding, tracking or running other jobs, one YOLOX frame took
    4.2 s where one thread took 31 ms (threads spin-waiting on each other). So one thread on
    <= 2 cores, else half the cores (the rest for decoding and the runner), at most 8."""
    cores = available_cores() if cores is None else cores
    return 1 if cores <= 2 else min(cores // 2, 8)


def resolve_threads(threads: int | None) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    return threads


class ModelFileError(ValueError):
    """A model file that exists but cannot be used; the message names the file and the problem."""


class BackendUnavailable(ImportError):
    """The runtime a model file needs (OpenVINO, TensorRT, CUDA) is not installed here."""


def import_optional(module: str, missing: str) -> Any:
    """Import an optional heavy dependency when it is first needed; `missing` says what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailable(f"{missing} ({e})") from None


@dataclass
class ModelMetadata:
    """What a detector file says about itself. `None` fields were not recorded."""

    model_name: str | None = None
    classes: tuple[str, ...] | None = None
    input_size: tuple[int, int] | None = None  # (H, W)
    decoded: bool | None = None
    legacy: bool | None = None
    strides: tuple[int, ...] = field(default=STRIDES)
    # Compute precision of the graph ("fp32", "fp16" mixed with fp32 I/O, "bf16" compiled so by OpenVINO,
    # "int8" Q/DQ or FakeQuantize); files written
    # before this field existed have none and are fp32 unless a converter says otherwise.
    precision: str | None = None
    # Frames ahead of its input frame that the output describes: 1 for StreamYOLO (learned
    # forecasting), None (= 0) for a plain detector.
    forecast_frames: int | None = None
    # A StreamYOLO graph (detector.export_stream): the names of its feature-buffer inputs and
    # outputs (stride 8, 16, 32) and of its "buffer is valid" flag; None for a stateless graph.
    buffer_inputs: tuple[str, ...] | None = None
    buffer_outputs: tuple[str, ...] | None = None
    buffer_valid: str | None = None

    def to_strings(self) -> dict[str, str]:
        """Flat string map for ONNX metadata_props, OpenVINO rt_info and engine sidecars."""
        out = {"yolox_streaming_metadata": METADATA_VERSION, "strides": json.dumps(list(self.strides))}
        if self.model_name is not None:
            out["model_name"] = self.model_name
        if self.classes is not None:
            out["classes"] = json.dumps(list(self.classes))
            out["num_classes"] = str(len(self.classes))
        if self.input_size is not None:
            out["input_size"] = json.dumps([int(v) for v in self.input_size])
        if self.decoded is not None:
            out["decoded"] = json.dumps(bool(self.decoded))
        if self.legacy is not None:
            out["legacy"] = json.dumps(bool(self.legacy))
        if self.precision is not None:
            out["precision"] = self.precision
        if self.forecast_frames is not None:
            out["forecast_frames"] = str(int(self.forecast_frames))
        if self.buffer_inputs is not None:
            out["buffer_inputs"] = json.dumps(list(self.buffer_inputs))
        if self.buffer_outputs is not None:
            out["buffer_outputs"] = json.dumps(list(self.buffer_outputs))
        if self.buffer_valid is not None:
            out["buffer_valid"] = self.buffer_valid
        return out

    @classmethod
    def from_strings(cls, props: dict[str, str], *, source: str) -> "ModelMetadata":
        def parse(key: str) -> Any:
            try:
                return json.loads(props[key])
            except (json.JSONDecodeError, TypeError) as e:
                raise ModelFileError(f"{source}: metadata entry {key!r} is not valid JSON ({e})") from None

        meta = cls(model_name=props.get("model_name"))
        if "classes" in props:
            classes = parse("classes")
            if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                raise ModelFileError(f"{source}: metadata 'classes' must be a JSON list of strings")
            meta.classes = tuple(classes)
        if "input_size" in props:
            size = parse("input_size")
            if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
                raise ModelFileError(f"{source}: metadata 'input_size' must be [H, W], got {props['input_size']}")
            meta.input_size = (size[0], size[1])
        if "decoded" in props:
            meta.decoded = bool(parse("decoded"))
        if "legacy" in props:
            meta.legacy = bool(parse("legacy"))
        if "strides" in props:
            meta.strides = tuple(int(s) for s in parse("strides"))
        if "precision" in props:
            if props["precision"] not in PRECISIONS:
                raise ModelFileError(f"{source}: metadata 'precision' must be one of {', '.join(PRECISIONS)}, "
                                     f"got {props['precision']!r}")
            meta.precision = props["precision"]
        if "forecast_frames" in props:
            frames = parse("forecast_frames")
            if isinstance(frames, bool) or not isinstance(frames, int) or frames < 0:
                raise ModelFileError(f"{source}: metadata 'forecast_frames' must be an integer >= 0, "
                                     f"got {props['forecast_frames']!r}")
            meta.forecast_frames = frames
        for key in ("buffer_inputs", "buffer_outputs"):
            if key in props:
                names = parse(key)
                if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                    raise ModelFileError(f"{source}: metadata {key!r} must be a JSON list of tensor names")
                setattr(meta, key, tuple(names))
        meta.buffer_valid = props.get("buffer_valid")
        if (meta.buffer_inputs is None) != (meta.buffer_outputs is None) or (
                meta.buffer_inputs is not None and (len(meta.buffer_inputs) != len(meta.buffer_outputs)
                                                    or meta.buffer_valid is None)):
            raise ModelFileError(f"{source}: metadata must name as many buffer_inputs as buffer_outputs, "
                                 "and buffer_valid")
        return meta


def buffer_names(meta: ModelMetadata, *, source: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """A StreamYOLO graph's buffer tensor names from its metadata: (inputs, outputs, valid flag)."""
    if meta.buffer_inputs is None or meta.buffer_outputs is None or meta.buffer_valid is None:
        raise ModelFileError(f"{source}: not a StreamYOLO graph (its metadata names no feature buffer)")
    return tuple(meta.buffer_inputs), tuple(meta.buffer_outputs), meta.buffer_valid


class StreamBuffer:
    """The feature buffer of an exported StreamYOLO graph (detector.export_stream), kept between
    calls: each call feeds the previous processed frame's features and keeps this frame's. After
    `reset()` (and at first) the next frame is fused with itself, as the torch online path does."""

    def __init__(self, meta: ModelMetadata, shapes: dict[str, list[int | None]], *, source: str) -> None:
        self.inputs, self.outputs, self.valid = buffer_names(meta, source=source)
        missing = [n for n in (*self.inputs, self.valid) if n not in shapes]
        if missing:
            raise ModelFileError(f"{source}: metadata names buffer inputs {missing} that the graph does not have")
        self.shapes = {}
        for name in self.inputs:
            shape = shapes[name]
            if None in shape or len(shape) != 4 or shape[0] != 1:
                raise ModelFileError(f"{source}: buffer input {name!r} must have a fixed shape [1, C, h, w], "
                                     f"got {shape}")
            self.shapes[name] = tuple(int(d) for d in shape)  # type: ignore[arg-type]
        self.state: list[np.ndarray] | None = None

    def reset(self) -> None:
        self.state = None

    def feeds(self) -> dict[str, np.ndarray]:
        """The buffer inputs of the next call (zeros and valid = 0 for a first frame)."""
        if self.state is None:
            out = {n: np.zeros(self.shapes[n], np.float32) for n in self.inputs}
            out[self.valid] = np.zeros(1, np.float32)
            return out
        out = dict(zip(self.inputs, self.state))
        out[self.valid] = np.ones(1, np.float32)
        return out

    def keep(self, outputs: list[np.ndarray]) -> None:
        """This frame's buffer outputs (copied: runtimes reuse their output memory)."""
        self.state = [np.array(o, dtype=np.float32, copy=True) for o in outputs]


class Backend:
    """Base of all backends. Subclasses set the attributes below and implement `_run`."""

    kind: str = "?"
    name: str
    num_classes: int
    input_size: tuple[int, int]
    decoded: bool
    legacy: bool
    classes: tuple[str, ...] | None = None
    strides: tuple[int, ...] = STRIDES
    fixed_batch: int | None = None  # a graph compiled for exactly this batch size
    max_batch: int | None = None  # a dynamic-batch graph with an upper limit (TensorRT profiles)
    resizable: bool = False  # True when any input size (multiple of 32) can be used
    precision: str | None = None  # what the runtime computes in (ModelMetadata.precision), when known
    forecast_frames: int = 0  # frames ahead of the input that the output describes (ModelMetadata)
    stateful: bool = False  # keeps state between calls (a feature buffer); then it has reset()

    def run(self, batch: np.ndarray) -> Any:
        """float32 [B, 3, H, W] -> head output [B, N, 5 + C] (numpy, or torch for the torch backend)."""
        k = self.fixed_batch or self.max_batch
        if k is None or batch.shape[0] == k or (self.fixed_batch is None and batch.shape[0] <= k):
            return self._run(batch)
        parts = []
        for start in range(0, batch.shape[0], k):
            chunk = batch[start:start + k]
            n = chunk.shape[0]
            if self.fixed_batch is not None and n < k:  # pad to the compiled batch, drop the padding after
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], k - n, axis=0)])
            parts.append(np.asarray(self._run(chunk))[:n])
        return np.concatenate(parts)

    def _run(self, batch: np.ndarray) -> Any:
        raise NotImplementedError


class GraphBackend(Backend):
    """Shared set-up of the exported-graph backends (ONNX Runtime, OpenVINO, TensorRT)."""

    source: str

    def _configure(self, *, meta: ModelMetadata, input_shape: list[int | None], output_shape: list[int | None],
                   input_size: tuple[int, int] | None, legacy: bool | None, decoded: bool | None) -> None:
        """Fill name / input_size / batch / classes / decoded from the graph, its metadata and overrides.

        Shapes list None for dynamic dimensions.
        """
        src = self.source
        if len(input_shape) != 4 or input_shape[1] not in (3, None):
            raise ModelFileError(f"{src}: expected one image input [B, 3, H, W], got shape {input_shape}")
        if len(output_shape) != 3:
            raise ModelFileError(f"{src}: expected one output [B, N, 5 + C], got shape {output_shape}")
        self.name = meta.model_name or Path(src).stem
        self.forecast_frames = int(meta.forecast_frames or 0)
        self.strides = tuple(meta.strides)
        self.fixed_batch = input_shape[0]
        graph_hw = input_shape[2], input_shape[3]
        if None not in graph_hw:
            fixed = (int(graph_hw[0]), int(graph_hw[1]))
            if input_size is not None and tuple(input_size) != fixed:
                raise ModelFileError(f"{src}: the graph has a fixed input size {fixed[0]}x{fixed[1]}, "
                                     f"cannot run at {input_size[0]}x{input_size[1]}")
            self.input_size, self.resizable = fixed, False
        else:
            size = input_size or meta.input_size or DEFAULT_INPUT_SIZE
            self.input_size, self.resizable = (int(size[0]), int(size[1])), True
        self.legacy = bool(legacy if legacy is not None else (meta.legacy or False))
        self.classes = meta.classes
        if output_shape[2] is not None:
            self.num_classes = int(output_shape[2]) - 5
        elif meta.classes is not None:
            self.num_classes = len(meta.classes)
        else:
            self.num_classes = -1  # learnt from the probe below
        if self.num_classes == 0 or self.num_classes < -1:
            raise ModelFileError(f"{src}: output {output_shape} is not a YOLOX head output [B, N, 5 + C]")
        if self.classes is not None and self.num_classes not in (-1, len(self.classes)):
            raise ModelFileError(f"{src}: metadata lists {len(self.classes)} classes but the output has "
                                 f"{self.num_classes}")
        known = decoded if decoded is not None else meta.decoded
        self.decoded = bool(known)
        if known is None or self.num_classes == -1:
            self._probe(decided=known is not None)

    def _probe(self, *, decided: bool) -> None:
        """One run on a fixed noise frame: the output width and, if unknown, decoded or raw."""
        rng = np.random.default_rng(0)
        h, w = self.input_size
        frame = rng.integers(0, 256, size=(1, 3, h, w)).astype(np.float32)
        out = np.asarray(self.run(frame))
        if out.ndim != 3 or out.shape[-1] < 6:
            raise ModelFileError(f"{self.source}: output of shape {out.shape} is not a YOLOX head output")
        self.num_classes = out.shape[-1] - 5
        if not decided:
            self.decoded = looks_decoded(out[0], self.input_size, self.strides)


def looks_decoded(output: np.ndarray, input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> bool:
    """Whether a head output on one frame has decoded boxes (cx, cy in pixels) or raw offsets.

    Decoded centres follow the anchor grid (x grows with the grid column across the whole image);
    raw offsets are small numbers around 0-1 that do not. Correlation with the grid tells them apart
    for trained and random weights alike.
    """
    grid, stride = cached_grid(input_hw, strides)
    x = np.asarray(output, dtype=np.float64).reshape(-1, output.shape[-1])[:, 0]
    if x.shape[0] != len(stride):
        return False
    centres = anchor_centres(grid, stride)[:, 0]
    if np.std(x) < 1e-9:
        return False
    return float(np.corrcoef(x, centres)[0, 1]) > 0.5


def check_model_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelFileError(f"{path}: expected a model file, got a directory")
    return path
