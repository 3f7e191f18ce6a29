"""detector.agreement on hand-made detections: matched per class, worst IoU and score, missing boxes."""
from __future__ import annotations

import numpy as np
import pytest

from data.detections import Detections
from detector.agreement import Agreement, agreement


def _dets(boxes, scores, labels) -> Detections:  # noqa: ANN001
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32),
                      np.asarray(labels, np.int64))


def test_worst_iou_and_score_over_frames() -> None:
    ref = [_dets([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.5], [0, 1]), _dets([[0, 0, 4, 4]], [0.3], [2])]
    # Frame 0: box 1 shifted by one pixel in x (IoU 90/110); frame 1 identical but 0.01 lower score.
    other = [_dets([[21, 20, 31, 30], [0, 0, 10, 10]], [0.52, 0.9], [1, 0]), _dets([[0, 0, 4, 4]], [0.29], [2])]
    result = agreement(ref, other)
    assert (result.boxes, result.missing) == (3, 0)
    assert result.worst_iou == pytest.approx(90 / 110)
    assert result.worst_score_diff == pytest.approx(0.02, abs=1e-6)
    assert result.within(0.8, 0.02 + 1e-6) and not result.within(0.95, 0.05)


def test_other_class_or_no_box_counts_as_missing() -> None:
    ref = [_dets([[0, 0, 10, 10]], [0.9], [0]), _dets([[0, 0, 10, 10]], [0.9], [0])]
    other = [_dets([[0, 0, 10, 10]], [0.9], [1]), Detections.empty()]
    assert agreement(ref, other) == Agreement(boxes=2, missing=2, worst_iou=1.0, worst_score_diff=0.0)
    with pytest.raises(ValueError, match="2 reference frames but 1 to compare"):
        agreement(ref, other[:1])
