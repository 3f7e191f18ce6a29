"""StreamYOLO's Trend-Aware Loss weights: how much each next-frame object counts in regression.

An object that moves fast between the current frame and the next changes its box a lot, and the
detector must learn that trend; TAL weights its regression terms by

    w = 1 / IoU(box at t, box at t+1) ** gamma          (official configs: gamma 1.0)

so slow objects (IoU near 1) weigh about 1 and fast ones more. Where the IoU is below
`ignore_thr` (0.5) the object is unreliable to weight by its trend (it entered the frame, was
occluded, or the match is wrong) and its IoU is replaced by `ignore_value` (1.5 for S/M, 1.6
for L), which gives it w = 1 / 1.5 ** gamma: a little less than a still object. This follows
the official code, where the ignore value replaces the IoU, not the weight.
detector.losses renormalises the weights over the batch, so they move loss between objects and
keep its total.

Matching: by track id where both frames carry one (Argoverse-HD and the synthetic worlds do);
an object without a track, or whose track is absent at t, takes the best IoU among the current
boxes, which is how the official code matches every object. No current boxes at all: w = 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrendConfig:
    gamma: float = 1.0
    ignore_thr: float = 0.5
    ignore_value: float = 1.5

    def __post_init__(self) -> None:
        if self.gamma < 0 or not 0 <= self.ignore_thr <= 1 or self.ignore_value <= 0:
            raise ValueError(f"TAL: need gamma >= 0, ignore_thr in [0, 1] and ignore_value > 0, got {self}")


def pairwise_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def trend_ious(next_boxes: np.ndarray, next_tracks: np.ndarray, cur_boxes: np.ndarray,
               cur_tracks: np.ndarray) -> np.ndarray:
    """(N,) IoU of each next-frame object (N, 4 xyxy) with its own box at the current frame."""
    n = len(next_boxes)
    if n == 0:
        return np.zeros(0, np.float64)
    if len(cur_boxes) == 0:
        return np.ones(n, np.float64)
    iou = pairwise_iou_xyxy(np.asarray(next_boxes, np.float64), np.asarray(cur_boxes, np.float64))
    best = iou.max(1)
    where = {int(t): k for k, t in enumerate(cur_tracks) if t >= 0}
    for i, t in enumerate(next_tracks):
        k = where.get(int(t)) if t >= 0 else None
        if k is not None:
            best[i] = iou[i, k]
    return best


def trend_weights(next_boxes: np.ndarray, next_tracks: np.ndarray, cur_boxes: np.ndarray,
                  cur_tracks: np.ndarray, cfg: TrendConfig = TrendConfig()) -> np.ndarray:
    """(N,) float32 TAL weights of the next-frame objects (before the batch renormalisation)."""
    iou = trend_ious(next_boxes, next_tracks, cur_boxes, cur_tracks)
    iou = np.where(iou < cfg.ignore_thr, cfg.ignore_value, iou)
    return (1.0 / (iou ** cfg.gamma + 1e-8)).astype(np.float32)
