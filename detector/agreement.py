"""How closely two detectors agree on the same frames: precision (FP16 vs FP32) and backend checks.

Each reference box is matched to the other side's box of the same class with the highest IoU; the
agreement is the worst IoU and the worst score difference over all reference boxes. Greedy and
one-sided on purpose: the question is "is every box I trust still there, in the same place, with
the same score", not a symmetric metric; AP answers the other question.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data.boxes import iou_matrix
from data.detections import Detections


@dataclass(frozen=True)
class Agreement:
    boxes: int  # reference boxes compared
    missing: int  # reference boxes with no box of their class on the other side
    worst_iou: float  # over matched boxes (1.0 when none)
    worst_score_diff: float  # |score difference| of the matched boxes (0.0 when none)

    def within(self, min_iou: float, max_score_diff: float) -> bool:
        return self.missing == 0 and self.worst_iou >= min_iou and self.worst_score_diff <= max_score_diff


def agreement(reference: Sequence[Detections], other: Sequence[Detections]) -> Agreement:
    """Agreement of per-frame detections `other` with `reference` (same frames, same order)."""
    if len(reference) != len(other):
        raise ValueError(f"{len(reference)} reference frames but {len(other)} to compare")
    boxes = missing = 0
    worst_iou, worst_score = 1.0, 0.0
    for ref, oth in zip(reference, other):
        ious = iou_matrix(ref.boxes, oth.boxes)
        ious[ref.labels[:, None] != oth.labels[None, :]] = -1.0  # other classes never match
        boxes += len(ref)
        for i in range(len(ref)):
            j = int(np.argmax(ious[i])) if ious.shape[1] else -1
            if j < 0 or ious[i, j] < 0:
                missing += 1
                continue
            worst_iou = min(worst_iou, float(ious[i, j]))
            worst_score = max(worst_score, abs(float(ref.scores[i]) - float(oth.scores[j])))
    return Agreement(boxes, missing, worst_iou, worst_score)
