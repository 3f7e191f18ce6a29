"""PyTorch backend: a .pth checkpoint (official release or trained here), or an in-memory model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from detector.backends.base import DEFAULT_INPUT_SIZE, Backend, ModelFileError, resolve_threads
from detector.streamyolo import Features, StreamYOLO


class TorchBackend(Backend):
    kind = "torch"
    resizable = True

    def __init__(self, model: torch.nn.Module, *, name: str, input_size: tuple[int, int],
                 device: str | torch.device = "cpu", fuse: bool = True, legacy: bool = False,
                 classes: tuple[str, ...] | None = None, half: bool = False, threads: int | None = None) -> None:
        self.threads = resolve_threads(threads)  # intra-op threads of each CPU call
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ModelFileError(f"{name}: device {device!r} requested but CUDA is not available to torch")
        model = model.eval()
        if fuse and hasattr(model, "fuse"):
            model.fuse()
        self.half = bool(half and self.device.type == "cuda")  # fp16 convs are slow or missing on CPU
        model = model.to(self.device)
        if self.half:
            model = model.half()
        model.head.decode_in_inference = True
        self.model = model
        self.name = name
        self.num_classes = int(model.head.num_classes)
        self.strides = tuple(model.head.strides)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.decoded = True
        self.legacy = bool(legacy)
        self.classes = classes

    @classmethod
    def from_checkpoint(cls, path: Path, *, device: str = "cpu", fuse: bool = True, legacy: bool | None = None,
                        input_size: tuple[int, int] | None = None, half: bool = False,
                        zoo_name: str | None = None, threads: int | None = None) -> "TorchBackend":
        """The model of a .pth file; arguments left None come from its metadata (detector.checkpoint)."""
        from detector.checkpoint import load_model

        model, meta = load_model(path, zoo_name=zoo_name)
        size = input_size or meta.input_size or DEFAULT_INPUT_SIZE
        kind = StreamTorchBackend if isinstance(model, StreamYOLO) else cls
        return kind(model, name=str(meta.model_name), input_size=size, device=device, fuse=fuse,
                   legacy=bool(meta.legacy if legacy is None else legacy), classes=meta.classes, half=half,
                   threads=threads)

    def _run(self, batch: np.ndarray) -> torch.Tensor:
        # torch's thread count is process-wide: set it for this call only and put it back, so
        # that a detector does not change the training, tests or other detectors around it.
        previous = torch.get_num_threads()
        change = self.device.type == "cpu" and previous != self.threads
        if change:
            torch.set_num_threads(self.threads)
        try:
            return self._forward(batch)
        finally:
            if change:
                torch.set_num_threads(previous)

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        if self.half:
            x = x.half()
        return self.model(x)


class StreamTorchBackend(TorchBackend):
    """A StreamYOLO checkpoint run online: each frame goes once through backbone and PAFPN, and its
    PAN features stay in `buffer` as the next frame's previous (detector.streamyolo). A batch is
    taken as consecutive frames of one stream. Stateful: `reset()` before each new sequence, or
    the first frame of the next sequence would be fused with the last one of the previous."""

    stateful = True

    def __init__(self, model: StreamYOLO, **kwargs) -> None:
        super().__init__(model, **kwargs)
        self.forecast_frames = int(model.forecast_frames)
        self.buffer: Features | None = None

    def reset(self) -> None:
        self.buffer = None

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        if self.half:
            x = x.half()
        if self.buffer is not None and self.buffer[0].shape[-2:] != (x.shape[-2] // 8, x.shape[-1] // 8):
            self.buffer = None  # another input size: the old features cannot be fused (a new stream)
        outputs = []
        for i in range(x.shape[0]):
            out, self.buffer = self.model.forward_online(x[i:i + 1], self.buffer)
            outputs.append(out)
        return torch.cat(outputs)
