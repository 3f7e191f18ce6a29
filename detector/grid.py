"""Anchor-point grids and box decoding, shared by the head, the losses and post-processing.

Anchors are ordered stride 8 first, then 16 and 32; within a level row-major (y outer, x inner).
"""
from __future__ import annotations

from typing import Any

import numpy as np

STRIDES: tuple[int, ...] = (8, 16, 32)


def feature_sizes(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> list[tuple[int, int]]:
    h, w = input_hw
    return [(h // s, w // s) for s in strides]


def make_grid(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell coordinates (N, 2) as (x, y) and the stride of each anchor (N,), float32."""
    grids, stride_list = [], []
    for (fh, fw), s in zip(feature_sizes(input_hw, strides), strides):
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        stride_list.append(np.full(fh * fw, s))
    return (np.concatenate(grids).astype(np.float32), np.concatenate(stride_list).astype(np.float32))


def decode_boxes(raw_xywh: Any, grid_xy: Any, stride: Any) -> Any:
    """Raw regression (..., N, 4) -> (cx, cy, w, h) in input pixels; numpy or torch.

    grid_xy (N, 2) and stride (N,) broadcast over leading batch dimensions.
    """
    stride = stride[..., None]
    xy = (raw_xywh[..., :2] + grid_xy) * stride
    if isinstance(raw_xywh, np.ndarray):
        wh = np.exp(raw_xywh[..., 2:]) * stride
        return np.concatenate([xy, wh], axis=-1)
    import torch

    wh = torch.exp(raw_xywh[..., 2:]) * stride
    return torch.cat([xy, wh], dim=-1)


def check_input_hw(input_hw: object, *, what: str = "input_size", strides: tuple[int, ...] = STRIDES) -> tuple[int, int]:
    """The one check of a network input size (H, W): two positive multiples of the largest stride."""
    step = max(strides)
    try:
        h, w = (int(v) for v in input_hw)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected two integers (H W), got {input_hw!r}") from None
    if h <= 0 or w <= 0 or h % step or w % step:
        raise ValueError(f"{what}: {h}x{w} must be positive multiples of {step} (H W)")
    return h, w
