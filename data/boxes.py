"""Box format conversions. Every conversion in the project goes through this module.

Formats: xyxy (x1, y1, x2, y2), xywh (left, top, width, height; COCO), cxcywh (centre, size).
All functions take and return arrays of shape (..., 4) and work for numpy and torch alike.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _stack(parts: list[Any], like: Any) -> Any:
    if isinstance(like, np.ndarray):
        return np.stack(parts, axis=-1)
    import torch  # only reached when the caller already passes torch tensors

    return torch.stack(parts, dim=-1)


def xyxy_to_xywh(b: Any) -> Any:
    return _stack([b[..., 0], b[..., 1], b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]], b)


def xywh_to_xyxy(b: Any) -> Any:
    return _stack([b[..., 0], b[..., 1], b[..., 0] + b[..., 2], b[..., 1] + b[..., 3]], b)


def xyxy_to_cxcywh(b: Any) -> Any:
    w = b[..., 2] - b[..., 0]
    h = b[..., 3] - b[..., 1]
    return _stack([b[..., 0] + w / 2, b[..., 1] + h / 2, w, h], b)


def cxcywh_to_xyxy(b: Any) -> Any:
    hw = b[..., 2] / 2
    hh = b[..., 3] / 2
    return _stack([b[..., 0] - hw, b[..., 1] - hh, b[..., 0] + hw, b[..., 1] + hh], b)


def clip_xyxy(b: np.ndarray, width: float, height: float) -> np.ndarray:
    out = np.array(b, dtype=np.float32, copy=True)
    out[..., [0, 2]] = out[..., [0, 2]].clip(0, width)
    out[..., [1, 3]] = out[..., [1, 3]].clip(0, height)
    return out


def box_area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes: (N,4) x (M,4) -> (N,M).

    x and y overlaps are computed separately (no (N, M, 2) temporaries): this sits on the
    tracker's per-frame hot path.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2])
    iw -= np.maximum(a[:, None, 0], b[None, :, 0])
    np.maximum(iw, 0, out=iw)
    ih = np.minimum(a[:, None, 3], b[None, :, 3])
    ih -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(ih, 0, out=ih)
    inter = iw
    inter *= ih
    union = box_area(a)[:, None] + box_area(b)[None, :]
    union -= inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
