"""ByteTrack-style two-stage association on top of the IoU + Kalman tracker.

Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box" (ECCV
2022): low-score boxes are often real objects that are occluded or blurred, so instead of
throwing them away they are used to *continue* existing tracks, but never to start new ones.

Per update call:
1. detections with score >= ``high_score`` are matched to all live tracks (``min_iou``);
2. detections with ``low_score <= score < high_score`` are matched to the tracks left over
   from stage 1 that were matched at the previous update call (ByteTrack's "tracked" set;
   tracks already coasting are "lost" and only a confident box may revive them), with the
   stricter ``low_min_iou`` because a weak box is more likely a false positive;
3. only unmatched high-score detections start tracks. Other unmatched detections belong to
   no track (``Tracker.untracked`` lists them so a forecaster can still report them).

Same Kalman filter, ageing and reporting rules as ``Tracker``.
"""
from __future__ import annotations

import numpy as np

from data.detections import Detections
from trackers.association import associate
from trackers.kalman import BoxKalmanFilter
from trackers.tracker import Tracker


class ByteTracker(Tracker):
    """Tracker with ByteTrack's high/low score two-stage association.

    high_score: detections at or above start tracks and are matched first.
    low_score: detections below are ignored by the tracker altogether.
    low_min_iou: smallest IoU for matching a low-score detection (stage 2).
    Other parameters as ``Tracker``.
    """

    def __init__(
        self,
        *,
        kalman: BoxKalmanFilter | None = None,
        min_iou: float = 0.3,
        association: str = "optimal",
        class_gating: bool = True,
        max_age: float = 0.5,
        high_score: float = 0.5,
        low_score: float = 0.1,
        low_min_iou: float = 0.5,
        anchor: str = "measurement",
        report_coasting: bool = False,
    ) -> None:
        if not 0 <= low_score <= high_score:
            raise ValueError(
                f"ByteTracker: need 0 <= low_score <= high_score, got low_score={low_score}, high_score={high_score}"
            )
        if not 0 < low_min_iou <= 1:
            raise ValueError(f"ByteTracker: low_min_iou must be in (0, 1], got {low_min_iou}")
        self.high_score = float(high_score)
        self.low_score = float(low_score)
        self.low_min_iou = float(low_min_iou)
        super().__init__(
            kalman=kalman, min_iou=min_iou, association=association,
            class_gating=class_gating, max_age=max_age, anchor=anchor, report_coasting=report_coasting,
        )

    def _match(self, detections: Detections) -> tuple[np.ndarray, np.ndarray]:
        scores = detections.scores
        high = np.nonzero(scores >= self.high_score)[0]
        low = np.nonzero((scores >= self.low_score) & (scores < self.high_score))[0]
        track_boxes = self.boxes
        kwargs = dict(method=self.association, class_gating=self.class_gating)

        m1, free_tracks, free_high = associate(
            track_boxes, self._labels, detections.boxes[high], detections.labels[high],
            min_iou=self.min_iou, **kwargs,
        )
        # _step was already advanced for this call, so "matched last call" is _step - 1.
        active = free_tracks[self._step_seen[free_tracks] == self._step - 1]
        m2, _, _ = associate(
            track_boxes[active], self._labels[active], detections.boxes[low], detections.labels[low],
            min_iou=self.low_min_iou, **kwargs,
        )
        matches = np.concatenate([
            np.stack([m1[:, 0], high[m1[:, 1]]], axis=1),
            np.stack([active[m2[:, 0]], low[m2[:, 1]]], axis=1),
        ]).astype(np.int64)
        return matches, high[free_high]
