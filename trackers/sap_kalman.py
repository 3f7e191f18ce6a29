"""The sAP toolkit's forecasting baseline, as a reference to measure our forecasters against.

Written here from its description (Li, Wang, Ramanan, "Towards Streaming Perception", ECCV
2020, and the toolkit's documented settings), not from its code:

- state per track (8,): ``[left, top, width, height]`` in pixels and their velocities in pixels
  per FRAME; time is counted in frames of ``fps`` (Argoverse-HD's 30);
- constant-velocity transition ``F = [[I, dt I], [0, I]]``, process noise ``Q = dt^2 I`` (all
  eight components, uncorrelated), measurement noise ``R = 10 I`` px^2, a new track starts at
  its box with zero velocity and ``P0 = 100 I``;
- association: tracks are predicted to the new output's input time; detections, highest score
  first, each take the free track of the same class with the highest IoU, if it is >= 0.3;
- only the latest output's objects survive and are reported: a matched one as its filtered
  posterior moved by velocity x frames since its input, a new one as detected; boxes are
  clipped to the image and dropped when degenerate after clipping.

Its weak points are kept on purpose (the posterior, not the measurement, at zero horizon; a
fixed pixel noise whatever the box size): they are what our "kalman" forecaster improves on.
"""
from __future__ import annotations

import math

import numpy as np

from data.boxes import iou_matrix, xywh_to_xyxy, xyxy_to_xywh
from data.detections import Detections
from trackers.tracker import clip_forecast

_R_PX2 = 10.0
_P0 = 100.0


def match_by_score(
    track_boxes: np.ndarray, track_labels: np.ndarray, dets: Detections, min_iou: float
) -> np.ndarray:
    """(K, 2) [track, detection] pairs: detections by descending score take their best free track."""
    iou = iou_matrix(track_boxes, dets.boxes)
    if iou.size == 0:
        return np.zeros((0, 2), np.int64)
    iou[track_labels[:, None] != dets.labels[None, :]] = 0.0
    free = np.ones(len(track_boxes), bool)
    pairs = []
    for d in np.argsort(-dets.scores, kind="stable"):
        column = np.where(free, iou[:, d], -1.0)
        t = int(np.argmax(column))
        if column[t] >= min_iou and column[t] > 0:
            free[t] = False
            pairs.append((t, int(d)))
    return np.asarray(pairs, np.int64).reshape(-1, 2)


class SapKalmanForecaster:
    """method "sap-kalman": the sAP toolkit's Kalman forecaster (module docstring).

    image_size: (W, H) for clipping, None leaves boxes unclipped; fps: frames per second that
    define its time unit; min_iou: association threshold.
    """

    def __init__(self, *, image_size: tuple[int, int] | None = None, fps: float = 30.0, min_iou: float = 0.3) -> None:
        if not fps > 0:
            raise ValueError(f"SapKalmanForecaster: fps must be > 0, got {fps}")
        self.image_size = image_size
        self.fps = float(fps)
        self.min_iou = float(min_iou)
        self.reset()

    def reset(self) -> None:
        self._time: float | None = None  # input time (s) of the latest update
        self._mean = np.zeros((0, 8), np.float64)  # (T, 8) ltwh + velocities (px / frame)
        self._cov = np.zeros((0, 8, 8), np.float64)  # (T, 8, 8)
        self._dets = Detections.empty()
        self._matched = np.zeros(0, bool)  # (T,) track continues an earlier one (else: new, unmoved)

    def update(self, detections: Detections, t_input: float) -> None:
        t = float(t_input)
        if not math.isfinite(t):
            raise ValueError(f"SapKalmanForecaster.update: time must be finite, got {t_input}")
        z = xyxy_to_xywh(detections.boxes.astype(np.float64))
        mean = np.zeros((len(z), 8), np.float64)
        mean[:, :4] = z
        cov = np.tile(np.eye(8) * _P0, (len(z), 1, 1))
        matched = np.zeros(len(z), bool)
        if self._time is not None and len(self._mean) and len(z):
            dt = (t - self._time) * self.fps
            f = np.eye(8)
            f[range(4), range(4, 8)] = dt
            pred_mean = self._mean @ f.T
            pred_cov = f @ self._cov @ f.T + np.eye(8) * dt**2
            pred_boxes = xywh_to_xyxy(pred_mean[:, :4])
            pairs = match_by_score(pred_boxes, self._dets.labels, detections, self.min_iou)
            if len(pairs):
                ti, di = pairs[:, 0], pairs[:, 1]
                p = pred_cov[ti]
                s = p[:, :4, :4] + np.eye(4) * _R_PX2
                gain = p[:, :, :4] @ np.linalg.inv(s)  # (K, 8, 4)
                innovation = z[di] - pred_mean[ti, :4]
                mean[di] = pred_mean[ti] + (gain @ innovation[:, :, None])[:, :, 0]
                cov[di] = p - gain @ p[:, :4, :]
                matched[di] = True
        # Tracks the new output does not contain are forgotten, as in the toolkit.
        self._time, self._mean, self._cov, self._dets, self._matched = t, mean, cov, detections, matched

    def forecast(self, t_query: float) -> Detections:
        if self._time is None or len(self._dets) == 0:
            return Detections.empty()
        frames = (float(t_query) - self._time) * self.fps
        ltwh = self._mean[:, :4] + frames * self._mean[:, 4:]
        boxes = np.where(self._matched[:, None], xywh_to_xyxy(ltwh), self._dets.boxes.astype(np.float64))
        boxes, keep = clip_forecast(boxes, self.image_size)
        return Detections(boxes[keep], self._dets.scores[keep], self._dets.labels[keep])
