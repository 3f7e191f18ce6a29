"""Deterministic weights and input shared by the golden-output parity test and the script that
produced its reference outputs with the official YOLOX modules.

The reference file `spec/official_golden_outputs.npz` holds, per model, the official code's eval
output (decoded, float64) for `golden_input()` with `golden_weights()` loaded. It was made once
with the official repository (Megvii-BaseDetection/YOLOX, commit 6ddff48) on a machine with its
modules importable; the tests cannot depend on that code, so they compare against the file.
Weights come from numpy's seeded generator (stable across versions), one stream per tensor in
state_dict order, so any model with the official keys gets the same numbers.
"""
from __future__ import annotations

import numpy as np
import torch

GOLDEN_MODELS = ("yolox_nano", "yolox_s", "yolov3")
INPUT_HW = (64, 96)


def golden_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Random but well-conditioned values for every tensor (BN variances positive, so the
    float64 outputs are not dominated by exploding activations)."""
    out = {}
    for i, (key, ref) in enumerate(state.items()):
        rng = np.random.default_rng(1000 + i)
        shape = tuple(ref.shape)
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(ref)
            continue
        if key.endswith("running_var"):
            values = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("running_mean") or key.endswith("bias"):
            values = rng.normal(0.0, 0.1, shape)
        elif key.endswith("weight") and len(shape) == 1:  # BN scale
            values = rng.uniform(0.8, 1.2, shape)
        else:  # conv kernels: fan-in scaled so activations stay O(1) through 100+ layers
            fan_in = int(np.prod(shape[1:])) or 1
            # the prediction convs small, so exp(wh) stays finite in every model
            scale = 0.1 if "_preds." in key else 0.5
            values = rng.normal(0.0, scale / np.sqrt(fan_in), shape)
        out[key] = torch.from_numpy(np.asarray(values, dtype=np.float32))
    return out


def golden_input() -> np.ndarray:
    """A [1, 3, 64, 96] float32 batch in the detector's 0-255 input range."""
    return np.random.default_rng(7).uniform(0.0, 255.0, (1, 3, *INPUT_HW)).astype(np.float32)
