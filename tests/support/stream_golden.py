"""Deterministic weights and frames shared by the StreamYOLO golden-output test and the one-off
script that produced its reference outputs with the official StreamYOLO modules.

`spec/streamyolo_golden_outputs.npz` holds, per model, the official code's eval output (decoded,
float64) at STREAM_INPUT_HW with `stream_golden_weights()` loaded: `<name>/two_frame` for the
stacked input (frame 1, frame 0), and `<name>/online_<i>` for frames 0, 1, 2 through the official
online mode (frame 0 as its own previous, then the buffer). It was made once with the official
repositories (yancie-yjr/StreamYOLO commit e4fbb7b, whose model files import
Megvii-BaseDetection/YOLOX commit 6ddff48's network blocks), BatchNorm eps 1e-3 as the official
cfgs set it; the tests cannot depend on that code, so they compare against the file.
"""
from __future__ import annotations

import numpy as np
import torch

from tests.support.golden import golden_weights

GOLDEN_STREAM_MODELS = ("streamyolo_nano", "streamyolo_s")
STREAM_INPUT_HW = (128, 160)
NUM_CLASSES = 8
# golden_weights' fan-in scaled 1x1 kernels let the previous flow move the head's output by ~1e-5
# only; larger DFP kernels make a wrong fusion (swapped flows, a missing buffer) show clearly.
JIAN_GAIN = 20.0


def stream_golden_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = golden_weights(state)
    for key in out:
        if key.startswith("backbone.jian") and key.endswith("conv.weight"):
            out[key] = out[key] * JIAN_GAIN
    return out


def stream_golden_frames(n: int = 3, *, hw: tuple[int, int] = STREAM_INPUT_HW, seed: int = 11) -> list[np.ndarray]:
    """n float64 [1, 3, H, W] frames in the detector's 0-255 input range."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.0, 255.0, (1, 3, *hw)) for _ in range(n)]
