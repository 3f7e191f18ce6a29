"""YOLOX detectors: models, training, export and inference.

`from detector import load_detector` is cheap: the inference API (and only the runtime of the
backend a model file needs) is imported on first use, so ONNX-only users never import torch.
"""
from __future__ import annotations

from typing import Any

__all__ = ["load_detector", "Detector"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from detector import api

        return getattr(api, name)
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
