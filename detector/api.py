"""`load_detector`: one entry point for every model file, returning frames -> Detections.

    det = load_detector("yolox_s.onnx", conf_thresh=0.3)
    detections = det([frame_bgr, ...])          # list[Detections], original-image pixels

The backend is chosen by the file: .pth (PyTorch), .onnx (ONNX Runtime), .xml (OpenVINO IR),
.engine (TensorRT 10 or 11), or a zoo name such as "yolox_s" (official weights, downloaded once).
Only the chosen backend's runtime is imported; torch is not needed for ONNX files.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data.classes import ARGOVERSE_HD_CLASSES, COCO_CLASSES
from data.detections import Detections
from detector.backends.base import Backend, ModelFileError, check_model_path, resolve_threads
from detector.grid import check_input_hw
from detector.postprocess import decode_outputs, postprocess
from detector.preprocess import Letterboxer, preprocess_batch

DEMO_CONF_THRESH = 0.3
DEMO_NMS_THRESH = 0.45
BACKEND_CHOICES = ("auto", "torch", "onnx", "openvino", "tensorrt")
BACKEND_BY_SUFFIX = {".pth": "torch", ".pt": "torch", ".tar": "torch", ".onnx": "onnx", ".xml": "openvino",
                     ".engine": "tensorrt", ".plan": "tensorrt"}


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """COCO for 80 classes, Argoverse-HD for 8, numbered names otherwise."""
    if num_classes == len(COCO_CLASSES):
        return COCO_CLASSES
    if num_classes == len(ARGOVERSE_HD_CLASSES):
        return ARGOVERSE_HD_CLASSES
    return tuple(f"class{i}" for i in range(num_classes))


class Detector:
    """A backend plus the shared letterbox and post-processing; call it on a list of BGR frames."""

    def __init__(self, backend: Backend, *, conf_thresh: float = DEMO_CONF_THRESH,
                 nms_thresh: float = DEMO_NMS_THRESH, max_det: int = 300,
                 class_names: Sequence[str] | None = None, multi_label: bool = False,
                 class_agnostic: bool = False) -> None:
        self.backend = backend
        n = backend.num_classes
        if class_names is not None:
            class_names = tuple(str(c) for c in class_names)
            if len(class_names) != n:
                raise ModelFileError(f"{backend.name}: the model predicts {n} classes but {len(class_names)} "
                                     f"class names were given")
        self.classes: tuple[str, ...] = class_names or backend.classes or default_class_names(n)
        if not 0.0 <= conf_thresh <= 1.0 or not 0.0 <= nms_thresh <= 1.0:
            raise ValueError(f"thresholds must be in [0, 1], got conf {conf_thresh}, nms {nms_thresh}")
        if max_det < 1:
            raise ValueError(f"max_det must be >= 1, got {max_det}")
        self.conf_thresh = float(conf_thresh)
        self.nms_thresh = float(nms_thresh)
        self.max_det = int(max_det)
        self.multi_label = bool(multi_label)
        self.class_agnostic = bool(class_agnostic)
        self._letterbox = Letterboxer(input_hw=backend.input_size, legacy=backend.legacy)

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def input_size(self) -> tuple[int, int]:
        return self.backend.input_size

    @property
    def legacy(self) -> bool:
        return self.backend.legacy

    @property
    def num_classes(self) -> int:
        return self.backend.num_classes

    @property
    def forecast_frames(self) -> int:
        """Frames ahead of its input frame that the output describes (1: StreamYOLO)."""
        return int(getattr(self.backend, "forecast_frames", 0))

    def reset(self) -> None:
        """Forget state carried between calls (StreamYOLO's feature buffer); call it before each
        new sequence. A no-op for stateless backends."""
        reset = getattr(self.backend, "reset", None)
        if reset is not None:
            reset()

    def preprocess(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        return preprocess_batch(frames, self.input_size, legacy=self.legacy)

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        run_frames = getattr(self.backend, "run_frames", None)  # a backend that letterboxes on its device
        if run_frames is not None:
            out, ratios, image_hws = run_frames(frames)
        else:
            batch, ratios, image_hws = self._letterbox(frames)  # a reused buffer, consumed by run()
            out = self.backend.run(batch)
        return postprocess(out, input_hw=self.input_size, ratios=ratios, image_sizes=image_hws,
                           decoded=self.backend.decoded, conf_thresh=self.conf_thresh,
                           nms_thresh=self.nms_thresh, max_det=self.max_det, multi_label=self.multi_label,
                           class_agnostic=self.class_agnostic, strides=self.backend.strides)

    def infer_raw(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 [B, 3, H, W] -> head output [B, N, 5+C] as numpy, boxes always decoded
        to (cx, cy, w, h) input pixels, so outputs of different backends compare directly."""
        out = self.backend.run(np.asarray(batch, dtype=np.float32))
        if not isinstance(out, np.ndarray):
            out = out.detach().float().cpu().numpy()
        if not self.backend.decoded:
            out = decode_outputs(out, self.input_size, self.backend.strides)
        return out

    def __repr__(self) -> str:
        h, w = self.input_size
        precision = f", precision={self.backend.precision}" if self.backend.precision else ""
        return (f"Detector({self.name!r}, backend={self.backend.kind}{precision}, input={h}x{w}, "
                f"classes={len(self.classes)}, conf={self.conf_thresh}, nms={self.nms_thresh})")


def resolve_model_path(path_or_name: str | Path) -> tuple[Path, str | None]:
    """(file, zoo name or None): an existing path wins; a zoo name resolves to its cached weights."""
    path = Path(path_or_name)
    if path.exists():
        return check_model_path(path), None
    from detector.zoo import MODEL_ZOO, resolve_weights

    if str(path_or_name) in MODEL_ZOO:
        return resolve_weights(str(path_or_name)), str(path_or_name)
    if path.suffix:
        raise FileNotFoundError(f"{path}: model file not found")
    raise FileNotFoundError(f"{path_or_name}: neither a model file nor a zoo name ({', '.join(MODEL_ZOO)})")


def _is_stateful_checkpoint(path: Path) -> bool:
    """Whether a .pth holds a StreamYOLO; memory-mapped, so only the keys are read, not the weights
    (the real load follows, and reports a bad file with its own message)."""
    import torch

    from detector.streamyolo import is_streamyolo_state

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - legacy (non-zip) files cannot be mapped; they are YOLOX checkpoints
        return False
    state = obj.get("model", obj) if isinstance(obj, dict) else {}
    return isinstance(state, dict) and is_streamyolo_state({k.removeprefix("module."): v for k, v in state.items()})


def choose_backend(kind: str, backend: str | None, *, device: str, path: Path) -> str:
    """The runtime to use for a file of `kind` (by suffix) when `backend` is asked for.

    None: the file's own runtime. "auto": a checkpoint on a CPU runs through OpenVINO when it is
    installed (detector.ov_cache exports it once), anything else through its own runtime; a
    StreamYOLO checkpoint too (at f32), its graph carrying the feature buffer (detector.export_stream). A
    checkpoint can also be asked to run as "onnx" or "openvino" (cached export); an exported
    graph runs only in its own runtime.
    """
    if backend is None:
        return kind
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, got {backend!r}")
    if backend == "auto":
        if kind != "torch" or device.lower() != "cpu":
            return kind
        import importlib.util

        return "openvino" if importlib.util.find_spec("openvino") is not None else "torch"
    if backend == kind:
        return backend
    if kind == "torch" and backend in ("onnx", "openvino"):
        return backend
    raise ModelFileError(f"{path}: a {kind} model file cannot run with backend {backend!r} (it runs with {kind!r}; "
                         "only checkpoints are exported on the fly)")


def load_backend(path_or_name: str | Path, *, input_size: Sequence[int] | None = None, device: str = "cpu",
                 fuse: bool = True, legacy: bool | None = None, decoded: bool | None = None,
                 threads: int | None = None, half: bool = False, backend: str | None = None,
                 precision: str | None = None, cache_dir: str | Path | None = None) -> Backend:
    size = check_input_hw(input_size) if input_size is not None else None
    threads = resolve_threads(threads)  # the same default for every CPU backend
    path, zoo_name = resolve_model_path(path_or_name)
    kind = BACKEND_BY_SUFFIX.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(BACKEND_BY_SUFFIX))
        raise ModelFileError(f"{path}: unknown model file type {path.suffix or '(no suffix)'!r} (expected {known})")
    chosen = choose_backend(kind, backend, device=device, path=path)
    if precision is not None and chosen != "openvino":
        raise ValueError(f"precision {precision!r} is for the OpenVINO backend, not {chosen!r}")
    if chosen != kind:  # a checkpoint through an exported graph, built once (detector.ov_cache)
        from detector.ov_cache import cached_export
        from detector.quantize import DEFAULT_OPENVINO_PRECISION

        wanted = precision or DEFAULT_OPENVINO_PRECISION
        if _is_stateful_checkpoint(path):  # a StreamYOLO: f32 by default, no INT8 (detector.export)
            from detector.export import STREAM_OPENVINO_PRECISION
            from detector.quantize import normalise_precision

            wanted = normalise_precision(precision or STREAM_OPENVINO_PRECISION, what="precision")
            if wanted == "int8":
                raise ModelFileError(f"{path}: a StreamYOLO checkpoint cannot be exported to INT8 (calibration "
                                     "through its feature buffer is not supported); use precision f32 or bf16")
        elif precision is None and wanted == "int8":
            import importlib.util

            if importlib.util.find_spec("nncf") is None:  # the default needs NNCF; bf16 needs nothing more
                wanted = "bf16"
        path = cached_export(path, fmt=chosen, precision=wanted, input_hw=size,
                             zoo_name=zoo_name, cache=cache_dir)
        kind, size = chosen, None  # the graph has the size fixed
    if kind == "torch":
        from detector.backends.torch_backend import TorchBackend

        return TorchBackend.from_checkpoint(path, device=device, fuse=fuse, legacy=legacy, input_size=size,
                                            half=half, zoo_name=zoo_name, threads=threads)
    if kind == "onnx":
        from detector.backends.onnx_backend import OnnxBackend

        return OnnxBackend(path, device=device, input_size=size, legacy=legacy, decoded=decoded, threads=threads)
    if kind == "openvino":
        from detector.backends.openvino_backend import OpenVinoBackend

        return OpenVinoBackend(path, device=device, input_size=size, legacy=legacy, decoded=decoded, threads=threads,
                               half=half, precision=precision)
    from detector.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(path, device=device if device.startswith("cuda") else "cuda", input_size=size,
                           legacy=legacy, decoded=decoded)


def load_detector(path_or_name: str | Path, *, conf_thresh: float = DEMO_CONF_THRESH,
                  nms_thresh: float = DEMO_NMS_THRESH, max_det: int = 300,
                  input_size: Sequence[int] | None = None, device: str = "cpu", fuse: bool = True,
                  legacy: bool | None = None, class_names: Sequence[str] | None = None,
                  decoded: bool | None = None, threads: int | None = None, multi_label: bool = False,
                  class_agnostic: bool = False, half: bool = False, backend: str | None = None,
                  precision: str | None = None, cache_dir: str | Path | None = None) -> Detector:
    """A ready detector for a model file or zoo name.

    Defaults are demo thresholds; use detector.postprocess.EVAL_CONF_THRESH and
    EVAL_NMS_THRESH for COCO-style AP.
    input_size (H, W): for .pth any multiple of 32 (default: checkpoint / zoo size); for exported
    graphs it must match a fixed graph. legacy / decoded: None = from the file's metadata (legacy
    False and a probe for decoded when the file has none, like official ONNX exports).
    threads: intra-op CPU threads per inference for torch, ONNX Runtime and OpenVINO (default
    detector.backends.base.default_threads: 1 on <= 2 cores). half: fp16 torch on CUDA; for OpenVINO,
    the plugin's reduced precision (bf16/f16 where the device has it) instead of f32.
    backend: None = the file's own runtime; "auto" = OpenVINO for a checkpoint on a CPU (exported
    once and cached by checkpoint SHA-256, precision and input size in `cache_dir`, default
    $YOLOX_STREAMING_CACHE or ~/.cache/yolox-streaming; detector.ov_cache); "torch" / "onnx" /
    "openvino" / "tensorrt" insist on one. precision (OpenVINO): f32 / bf16 / int8 for a checkpoint's
    export (default detector.quantize.DEFAULT_OPENVINO_PRECISION; a StreamYOLO's is f32 and INT8 is
    refused, detector.export.STREAM_OPENVINO_PRECISION); for an .xml it overrides the
    precision recorded in the file, except that an f32 or bf16 IR cannot become int8.
    """
    runtime = load_backend(path_or_name, input_size=input_size, device=device, fuse=fuse, legacy=legacy,
                           decoded=decoded, threads=threads, half=half, backend=backend, precision=precision,
                           cache_dir=cache_dir)
    return Detector(runtime, conf_thresh=conf_thresh, nms_thresh=nms_thresh, max_det=max_det,
                    class_names=class_names, multi_label=multi_label, class_agnostic=class_agnostic)


def detector_from_model(model: Any, *, input_size: Sequence[int], name: str = "model", fuse: bool = False,
                        device: str = "cpu", legacy: bool = False, class_names: Sequence[str] | None = None,
                        threads: int | None = None, **thresholds: Any) -> Detector:
    """A Detector around an in-memory YOLOX module (e.g. during training); `fuse` modifies it in place.
    threads: None keeps the process's torch setting (the trainer's `threads`)."""
    import torch

    from detector.backends.torch_backend import TorchBackend

    size = check_input_hw(input_size)
    backend = TorchBackend(model, name=name, input_size=size, device=device, fuse=fuse, legacy=legacy,
                           threads=torch.get_num_threads() if threads is None else threads)
    return Detector(backend, class_names=class_names, **thresholds)
