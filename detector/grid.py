"""Anchor-point grids and box decoding, shared by the head, the losses and post-processing.

Anchors are ordered stride 8 first, then 16 and 32; within a level row-major (y outer, x inner).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

STRIDES: tuple[int, ...] = (8, 16, 32)


def feature_hws(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> list[tuple[int, int]]:
    """(H / s, W / s) of each level for an input size that is a multiple of the largest stride."""
    h, w = input_hw
    return [(h // s, w // s) for s in strides]


def grid_from_feature_hws(feature_hw: Sequence[tuple[int, int]], strides: tuple[int, ...] = STRIDES
                            ) -> tuple[np.ndarray, np.ndarray]:
    """The one anchor-grid builder: per level (h, w) and stride -> grid cell coordinates (N, 2) as
    (x, y) and the stride of each anchor (N,), float32, N = sum of h * w."""
    grids, stride_list = [], []
    for (fh, fw), s in zip(feature_hw, strides):
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        stride_list.append(np.full(fh * fw, s))
    return (np.concatenate(grids).astype(np.float32), np.concatenate(stride_list).astype(np.float32))


def make_grid(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell coordinates (N, 2) as (x, y) and the stride of each anchor (N,), float32."""
    return grid_from_feature_hws(feature_hws(input_hw, strides), strides)


@lru_cache(maxsize=32)
def _cached_grid(feature_hw: tuple[tuple[int, int], ...], strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    grid, stride = grid_from_feature_hws(feature_hw, strides)
    grid.setflags(write=False)
    stride.setflags(write=False)
    return grid, stride


def cached_grid(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """`make_grid` built once per size (read-only arrays): post-processing asks for it every frame."""
    level_hw = tuple((int(h), int(w)) for h, w in feature_hws((int(input_hw[0]), int(input_hw[1])), strides))
    return _cached_grid(level_hw, tuple(strides))


def torch_grid(feature_hw: Sequence[tuple[int, int]], strides: tuple[int, ...] = STRIDES, *,
               dtype: Any = None, device: Any = None) -> tuple[Any, Any]:
    """`grid_from_feature_hws` as torch tensors (grid (N, 2), stride (N,)) of `dtype` on `device`.

    The grid comes from numpy, so inside a traced or exported graph it is a constant of the
    traced input size, as it was when the head built it with torch ops on static shapes.
    """
    import torch

    level_hw = tuple((int(h), int(w)) for h, w in feature_hw)
    grid, stride = _cached_grid(level_hw, tuple(strides))
    return (torch.tensor(grid, dtype=dtype, device=device), torch.tensor(stride, dtype=dtype, device=device))


def anchor_centres(grid_xy: Any, stride: Any) -> Any:
    """Anchor centres in input pixels, (grid + 0.5) * stride; numpy or torch."""
    return (grid_xy + 0.5) * stride[:, None]


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
