"""Forecasters: turn the latest detections into boxes at any later query time.

The streaming evaluator feeds each detector output at its frame's capture time and asks for the
world at every ground-truth time (the sAP toolkit's forecasting rule):

    f = build_forecaster(ForecastConfig(method="kalman"), image_size=(W, H))
    f.reset()                             # new sequence
    f.update(detections, t_input)         # detections of the frame captured at t_input seconds
    f.forecast(t_query) -> Detections     # those objects, extrapolated to t_query seconds

Methods: "none" returns the last detections unchanged; "kalman" tracks with IoU association and
a constant-velocity Kalman filter (trackers.tracker); "bytetrack" adds ByteTrack's two-stage
association (trackers.bytetrack); "sap-kalman" is the sAP toolkit's baseline, kept as a reference
(trackers.sap_kalman). What is reported: the objects of the latest update (tracks
matched or started by it), each moved by its velocity times ``t_query - t_input``; an object
seen only once stays where it was seen. Boxes are clipped to the image and dropped when less
than 1 px wide or high after clipping. Output order follows the latest detections' order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from data.config import ConfigError
from data.detections import Detections
from trackers.bytetrack import ByteTracker
from trackers.kalman import BoxKalmanFilter
from trackers.sap_kalman import SapKalmanForecaster
from trackers.tracker import ANCHORS, Tracker, clip_forecast

FORECAST_METHODS = ("none", "kalman", "bytetrack", "sap-kalman")


@dataclass
class ForecastConfig:
    """Forecasting parameters (times in seconds, noise relative to box size).

    min_iou, measurement_std and vertical_accel_std were tuned with the oracle detector on the
    training sequences of a synthetic world (seed 77, 960x600; benchmarks/oracle_forecast.py)
    and checked on its held-out ones: boxes move far between outputs at a latency of several
    frames, so gating is loose; the measurement noise is that of exact boxes, a trained detector
    may want more.

    method: "none" | "kalman" | "bytetrack" | "sap-kalman".
    association: "optimal" (max total IoU, scipy) | "greedy" (highest IoU first, sAP baseline).
    min_iou: smallest IoU between a track (predicted to the detection time) and a detection.
    class_gating: a track only matches detections of its class.
    max_age: seconds a track survives unmatched (keeps id and velocity through short misses).
    score_decay_per_s: reported score = score * exp(-score_decay_per_s * horizon), horizon =
        t_query - t_input in seconds; 0 disables it.
    measurement_std: box measurement noise std, fraction of box size.
    accel_std: horizontal centre acceleration noise, box sizes / s^2 / sqrt(Hz).
    vertical_accel_std: vertical centre acceleration noise, same units (camera pitch shake is
        not followed; see trackers.kalman).
    size_accel_std: width/height acceleration noise, same units.
    high_score, low_score, low_min_iou: ByteTrack thresholds (see trackers.bytetrack).
    report_untracked: ByteTrack only; also report (unmoved) detections that have no track, so
        that forecasting never loses detector recall.
    anchor: "measurement" (the latest detection moved by the filtered velocity; a zero horizon
        returns the input) | "filtered" (the Kalman posterior, as the sAP toolkit); see
        trackers.tracker.
    report_coasting: also report tracks the latest output did not contain, predicted on.
    sap_fps: "sap-kalman" only; the frame rate whose frames are its time unit (its noise
        settings assume Argoverse-HD's 30 FPS frames).
    """

    method: str = "kalman"
    association: str = "optimal"
    min_iou: float = 0.1
    class_gating: bool = True
    max_age: float = 0.5
    score_decay_per_s: float = 0.0
    measurement_std: float = 0.02
    accel_std: float = 1.0
    vertical_accel_std: float = 0.1
    size_accel_std: float = 0.5
    high_score: float = 0.5
    low_score: float = 0.1
    low_min_iou: float = 0.5
    report_untracked: bool = True
    anchor: str = "measurement"
    report_coasting: bool = False
    sap_fps: float = 30.0

    def __post_init__(self) -> None:
        if self.method not in FORECAST_METHODS:
            raise ConfigError(f"forecast.method must be one of {FORECAST_METHODS}, got {self.method!r}")
        if self.anchor not in ANCHORS:
            raise ConfigError(f"forecast.anchor must be one of {ANCHORS}, got {self.anchor!r}")
        if self.association not in ("optimal", "greedy"):
            raise ConfigError(f"forecast.association must be 'optimal' or 'greedy', got {self.association!r}")
        checks = (
            ("min_iou", 0 < self.min_iou <= 1, "in (0, 1]"),
            ("low_min_iou", 0 < self.low_min_iou <= 1, "in (0, 1]"),
            ("max_age", self.max_age >= 0, ">= 0"),
            ("score_decay_per_s", self.score_decay_per_s >= 0, ">= 0"),
            ("measurement_std", self.measurement_std > 0, "> 0"),
            ("accel_std", self.accel_std >= 0, ">= 0"),
            ("vertical_accel_std", self.vertical_accel_std >= 0, ">= 0"),
            ("size_accel_std", self.size_accel_std >= 0, ">= 0"),
            ("sap_fps", self.sap_fps > 0, "> 0"),
            ("low_score", 0 <= self.low_score <= self.high_score, "in [0, high_score]"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"forecast.{name} must be {rule}, got {getattr(self, name)!r}")


class Forecaster(Protocol):
    def reset(self) -> None: ...
    def update(self, detections: Detections, t_input: float) -> None: ...
    def forecast(self, t_query: float) -> Detections: ...


class PassthroughForecaster:
    """method "none": the latest detections, unchanged, whatever the query time."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._last = Detections.empty()

    def update(self, detections: Detections, t_input: float) -> None:
        if not math.isfinite(float(t_input)):
            raise ValueError(f"PassthroughForecaster.update: time must be finite, got {t_input}")
        self._last = detections

    def forecast(self, t_query: float) -> Detections:
        return self._last

    def forecast_with_ids(self, t_query: float) -> tuple[Detections, np.ndarray]:
        return self._last, np.full(len(self._last), -1, np.int64)


class TrackingForecaster:
    """Tracker-backed forecaster ("kalman" and "bytetrack").

    image_size: (W, H) of the frames for clipping; None leaves boxes unclipped (still dropping
    boxes thinner than 1 px). score_decay_per_s, report_untracked: see ForecastConfig.
    """

    def __init__(
        self,
        tracker: Tracker,
        *,
        image_size: tuple[int, int] | None = None,
        score_decay_per_s: float = 0.0,
        report_untracked: bool = True,
    ) -> None:
        if image_size is not None and (len(image_size) != 2 or min(image_size) <= 0):
            raise ValueError(f"TrackingForecaster: image_size must be (W, H) > 0, got {image_size!r}")
        self.tracker = tracker
        self.image_size = None if image_size is None else (float(image_size[0]), float(image_size[1]))
        self.score_decay_per_s = float(score_decay_per_s)
        self.report_untracked = bool(report_untracked)
        self.reset()

    def reset(self) -> None:
        self.tracker.reset()
        self._last = Detections.empty()

    def update(self, detections: Detections, t_input: float) -> None:
        self.tracker.update(detections, t_input)
        self._last = detections

    def forecast(self, t_query: float) -> Detections:
        return self.forecast_with_ids(t_query)[0]

    def forecast_with_ids(self, t_query: float) -> tuple[Detections, np.ndarray]:
        """Forecast plus the track id of each box (-1 for an untracked detection)."""
        tf = self.tracker.forecast(t_query)
        boxes, scores, labels, ids, order = tf.boxes, tf.scores, tf.labels, tf.ids, tf.det_index
        untracked = self.tracker.untracked if self.report_untracked else np.zeros(0, np.int64)
        if len(untracked):
            boxes = np.concatenate([boxes, self._last.boxes[untracked].astype(np.float64)])
            scores = np.concatenate([scores, self._last.scores[untracked]])
            labels = np.concatenate([labels, self._last.labels[untracked]])
            ids = np.concatenate([ids, np.full(len(untracked), -1, np.int64)])
            order = np.concatenate([order, untracked])
            # Coasting tracks (det_index -1) stay after the latest output's objects.
            sort = np.argsort(np.where(order < 0, np.iinfo(np.int64).max, order), kind="stable")
            boxes, scores, labels, ids = boxes[sort], scores[sort], labels[sort], ids[sort]
        if self.score_decay_per_s > 0 and self.tracker.time is not None:
            horizon = max(float(t_query) - self.tracker.time, 0.0)
            scores = scores * np.float32(math.exp(-self.score_decay_per_s * horizon))
        boxes, keep = clip_forecast(boxes, self.image_size)
        return Detections(boxes[keep], scores[keep], labels[keep]), ids[keep]


def build_forecaster(
    cfg: ForecastConfig, image_size: tuple[int, int] | None = None
) -> PassthroughForecaster | TrackingForecaster | SapKalmanForecaster:
    """The forecaster ``cfg.method`` names; ``image_size`` = (W, H) for clipping boxes."""
    if cfg.method == "none":
        return PassthroughForecaster()
    if cfg.method == "sap-kalman":
        return SapKalmanForecaster(image_size=image_size, fps=cfg.sap_fps)  # the toolkit's own gating
    kalman = BoxKalmanFilter(
        measurement_std=cfg.measurement_std, accel_std=cfg.accel_std, size_accel_std=cfg.size_accel_std,
        vertical_accel_std=cfg.vertical_accel_std,
    )
    common = dict(
        kalman=kalman, min_iou=cfg.min_iou, association=cfg.association,
        class_gating=cfg.class_gating, max_age=cfg.max_age, anchor=cfg.anchor,
        report_coasting=cfg.report_coasting,
    )
    if cfg.method == "kalman":
        tracker: Tracker = Tracker(**common)
    else:
        tracker = ByteTracker(
            **common, high_score=cfg.high_score, low_score=cfg.low_score, low_min_iou=cfg.low_min_iou
        )
    return TrackingForecaster(
        tracker, image_size=image_size, score_decay_per_s=cfg.score_decay_per_s,
        report_untracked=cfg.report_untracked,
    )
