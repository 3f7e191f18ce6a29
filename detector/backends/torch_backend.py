"""PyTorch backend: a .pth checkpoint (official release or trained here), or an in-memory model."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from detector.backends.base import Backend, ModelFileError
from detector.zoo import MODEL_ZOO

DEFAULT_INPUT_SIZE = (640, 640)


def _as_size(value: Any, source: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ModelFileError(f"{source}: checkpoint 'input_size' must be (H, W), got {value!r}") from None
    return h, w


class TorchBackend(Backend):
    kind = "torch"
    resizable = True

    def __init__(self, model: torch.nn.Module, *, name: str, input_size: tuple[int, int],
                 device: str | torch.device = "cpu", fuse: bool = True, legacy: bool = False,
                 classes: tuple[str, ...] | None = None, half: bool = False) -> None:
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
                        zoo_name: str | None = None) -> "TorchBackend":
        from detector.checkpoint import load_model

        model, meta = load_model(path)
        # Checkpoints written by detector.train may record their name, classes and input size.
        recorded = meta.get("model_name")
        if recorded == "custom":  # load_model's word for "matches no zoo architecture"
            recorded = None
        name = zoo_name or recorded or meta.get("exp") or path.stem
        spec = MODEL_ZOO.get(str(name))
        size = (_as_size(input_size, str(path)) or _as_size(meta.get("input_size"), str(path))
                or (spec.input_size if spec else None) or DEFAULT_INPUT_SIZE)
        if legacy is None:
            legacy = bool(meta.get("legacy", spec.legacy if spec else False))
        classes = meta.get("classes")
        if classes is not None:
            if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) for c in classes):
                raise ModelFileError(f"{path}: checkpoint 'classes' must be a list of class names")
            classes = tuple(classes)
        return cls(model, name=str(name), input_size=size, device=device, fuse=fuse, legacy=legacy,
                   classes=classes, half=half)

    @torch.inference_mode()
    def _run(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        if self.half:
            x = x.half()
        return self.model(x)
