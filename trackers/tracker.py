"""Multi-object box tracker: Kalman state per track, IoU association, ageing by time.

All tracks live in parallel numpy arrays (one row per track) and the filter runs on the whole
stack at once; there are no per-track Python objects. Removing tracks rebuilds the arrays
without them, so memory follows the number of live tracks however long the stream runs.

Life of a track (times in seconds):
- an unmatched detection starts a track with the next id (ids count up from 0 per tracker and
  restart at ``reset()``); position only, no velocity yet;
- the next match sets the velocity from the two boxes (two-point start), later matches are
  Kalman updates; every update call first predicts all tracks to its time;
- a track not matched for more than ``max_age`` seconds (strictly: ``t - last_seen > max_age``)
  is removed at the next update call.

Reported tracks (``forecast``): those matched or started by the most recent update call, i.e.
the objects of the latest detection output, as in the sAP toolkit's forecasting baseline.
Coasting tracks are kept so that an object missed for a moment keeps its id and velocity; they
are reported only with ``report_coasting`` (an object the detector stopped seeing has usually
left or become hidden, so reporting it mostly adds false positives).

Where a reported box starts (``anchor``): "measurement" moves the latest detection itself by the
filtered velocity, so a zero-horizon forecast returns exactly what the detector said and the
filter only contributes motion; "filtered" starts from the Kalman posterior, as the sAP toolkit
does, which at zero horizon replaces a good detection by a lagging average of past ones.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from data.boxes import clip_xyxy, cxcywh_to_xyxy, xyxy_to_cxcywh
from data.detections import Detections
from trackers.association import ASSOCIATION_METHODS, associate
from trackers.kalman import BoxKalmanFilter

# Times are sums of float frame times; an age equal to max_age must not count as older.
_TIME_EPS = 1e-9
# Two boxes closer in time than this cannot give a velocity; the later one replaces the first.
_MIN_VELOCITY_DT = 1e-6
MIN_SIDE_PX = 1.0  # forecast boxes thinner than this after clipping are dropped


class TrackForecast(NamedTuple):
    """Reported tracks extrapolated to a query time, ordered by detection index."""

    boxes: np.ndarray  # (K, 4) float64 xyxy, unclipped
    scores: np.ndarray  # (K,) float32, score of the last matched detection
    labels: np.ndarray  # (K,) int64
    ids: np.ndarray  # (K,) int64 track ids
    det_index: np.ndarray  # (K,) int64 index of the track's detection in the last update


def clip_forecast(boxes: np.ndarray, image_size: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Forecast boxes (K, 4) xyxy clipped to the image (W, H) (None: unclipped), and the (K,)
    mask of those at least ``MIN_SIDE_PX`` wide and high; an object extrapolated out of view
    leaves a sliver that would only be a false positive."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if image_size is not None:
        boxes = clip_xyxy(boxes, float(image_size[0]), float(image_size[1]))
    keep = ((boxes[:, 2] - boxes[:, 0]) >= MIN_SIDE_PX) & ((boxes[:, 3] - boxes[:, 1]) >= MIN_SIDE_PX)
    return boxes, keep


def state_to_xyxy(mean: np.ndarray) -> np.ndarray:
    """(T, 8) states -> (T, 4) xyxy boxes; a size extrapolated below zero becomes zero."""
    cxcywh = mean[:, :4].copy()
    cxcywh[:, 2:] = np.maximum(cxcywh[:, 2:], 0.0)
    return cxcywh_to_xyxy(cxcywh)


ANCHORS = ("measurement", "filtered")


class Tracker:
    """IoU + Kalman tracker; every detection is either matched to a track or starts one.

    kalman: the filter (noise parameters); min_iou: smallest IoU of a match, between the track
    predicted to the detection time and the detection; association: "optimal" or "greedy";
    class_gating: tracks only match detections of their class; max_age: seconds a track
    survives without a match; anchor, report_coasting: what ``forecast`` reports (module
    docstring).
    """

    def __init__(
        self,
        *,
        kalman: BoxKalmanFilter | None = None,
        min_iou: float = 0.3,
        association: str = "optimal",
        class_gating: bool = True,
        max_age: float = 0.5,
        anchor: str = "measurement",
        report_coasting: bool = False,
    ) -> None:
        if anchor not in ANCHORS:
            raise ValueError(f"Tracker: anchor must be one of {ANCHORS}, got {anchor!r}")
        if association not in ASSOCIATION_METHODS:
            raise ValueError(f"Tracker: association must be one of {ASSOCIATION_METHODS}, got {association!r}")
        if not 0 < min_iou <= 1:
            raise ValueError(f"Tracker: min_iou must be in (0, 1], got {min_iou}")
        if not max_age >= 0:
            raise ValueError(f"Tracker: max_age must be >= 0 seconds, got {max_age}")
        self.kalman = kalman if kalman is not None else BoxKalmanFilter()
        self.min_iou = float(min_iou)
        self.association = association
        self.class_gating = bool(class_gating)
        self.max_age = float(max_age)
        self.anchor = anchor
        self.report_coasting = bool(report_coasting)
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all tracks and restart ids at 0 (a new sequence)."""
        self._next_id = 0
        self._step = 0  # number of update calls; tracks remember the call that last matched them
        self._time: float | None = None
        self._ids = np.zeros(0, np.int64)
        self._labels = np.zeros(0, np.int64)
        self._scores = np.zeros(0, np.float32)
        self._mean = np.zeros((0, 8), np.float64)
        self._cov = np.zeros((0, 8, 8), np.float64)
        self._z = np.zeros((0, 4), np.float64)  # latest matched measurement, cxcywh
        self._last_seen = np.zeros(0, np.float64)
        self._hits = np.zeros(0, np.int64)
        self._step_seen = np.zeros(0, np.int64)
        self._det_index = np.zeros(0, np.int64)
        self._untracked = np.zeros(0, np.int64)  # detections of the last update without a track

    def _arrays(self) -> tuple[str, ...]:
        return ("_ids", "_labels", "_scores", "_mean", "_cov", "_z", "_last_seen", "_hits", "_step_seen", "_det_index")

    def _keep(self, keep: np.ndarray) -> None:
        if keep.all():
            return
        for name in self._arrays():
            setattr(self, name, getattr(self, name)[keep])

    @property
    def time(self) -> float | None:
        """Time (s) of the latest update, to which all track states are predicted."""
        return self._time

    @property
    def num_tracks(self) -> int:
        return len(self._ids)

    @property
    def nbytes(self) -> int:
        """Bytes held by the track arrays (for memory checks)."""
        return sum(getattr(self, name).nbytes for name in self._arrays())

    @property
    def untracked(self) -> np.ndarray:
        """Indices of the last update's detections that neither matched nor started a track."""
        return self._untracked.copy()

    @property
    def ids(self) -> np.ndarray:
        return self._ids.copy()

    @property
    def labels(self) -> np.ndarray:
        return self._labels.copy()

    @property
    def last_seen(self) -> np.ndarray:
        return self._last_seen.copy()

    @property
    def mean(self) -> np.ndarray:
        return self._mean.copy()

    @property
    def boxes(self) -> np.ndarray:
        """(T, 4) xyxy of all live tracks at ``time``."""
        return state_to_xyxy(self._mean)

    # -- update ------------------------------------------------------------------------------
    def update(self, detections: Detections, t: float) -> None:
        """Add the detections of the frame captured at ``t`` seconds (non-decreasing)."""
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"Tracker.update: time must be finite, got {t}")
        if self._time is not None:
            if t < self._time:
                raise ValueError(f"Tracker.update: time went backwards ({t} s after {self._time} s)")
            self._keep(t - self._last_seen <= self.max_age + _TIME_EPS)
            if t > self._time and self.num_tracks:
                self._mean, self._cov = self.kalman.predict(self._mean, self._cov, t - self._time)
        self._step += 1
        self._time = t
        z = xyxy_to_cxcywh(detections.boxes.astype(np.float64))
        matches, spawn = self._match(detections)
        self._apply_matches(matches, z, detections, t)
        self._spawn(spawn, z, detections, t)
        covered = np.zeros(len(detections), bool)
        covered[matches[:, 1]] = True
        covered[spawn] = True
        self._untracked = np.nonzero(~covered)[0]

    def _match(self, detections: Detections) -> tuple[np.ndarray, np.ndarray]:
        """Returns (matches (K, 2) [track, det], detection indices that start tracks)."""
        matches, _, free_dets = associate(
            self.boxes, self._labels, detections.boxes, detections.labels,
            min_iou=self.min_iou, method=self.association, class_gating=self.class_gating,
        )
        return matches, free_dets

    def _apply_matches(self, matches: np.ndarray, z: np.ndarray, dets: Detections, t: float) -> None:
        if len(matches) == 0:
            return
        ti, di = matches[:, 0], matches[:, 1]
        dt_seen = t - self._last_seen[ti]
        first = self._hits[ti] == 1
        two_point = first & (dt_seen > _MIN_VELOCITY_DT)
        restart = first & ~two_point
        filtered = ~first
        if two_point.any():
            i, j = ti[two_point], di[two_point]
            self._mean[i], self._cov[i] = self.kalman.initiate_two_point(
                self._mean[i, :4], z[j], dt_seen[two_point]
            )
        if restart.any():
            self._mean[ti[restart]], self._cov[ti[restart]] = self.kalman.initiate(z[di[restart]])
        if filtered.any():
            i, j = ti[filtered], di[filtered]
            self._mean[i], self._cov[i] = self.kalman.update(self._mean[i], self._cov[i], z[j])
        self._hits[ti[~restart]] += 1
        self._z[ti] = z[di]
        self._labels[ti] = dets.labels[di]
        self._scores[ti] = dets.scores[di]
        self._last_seen[ti] = t
        self._step_seen[ti] = self._step
        self._det_index[ti] = di

    def _spawn(self, det_idx: np.ndarray, z: np.ndarray, dets: Detections, t: float) -> None:
        n = len(det_idx)
        if n == 0:
            return
        mean, cov = self.kalman.initiate(z[det_idx])
        new = {
            "_ids": np.arange(self._next_id, self._next_id + n, dtype=np.int64),
            "_labels": dets.labels[det_idx],
            "_scores": dets.scores[det_idx],
            "_mean": mean,
            "_cov": cov,
            "_z": z[det_idx],
            "_last_seen": np.full(n, t, np.float64),
            "_hits": np.ones(n, np.int64),
            "_step_seen": np.full(n, self._step, np.int64),
            "_det_index": det_idx.astype(np.int64),
        }
        self._next_id += n
        for name, values in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), values]))

    # -- output ------------------------------------------------------------------------------
    def forecast(self, t_query: float) -> TrackForecast:
        """Tracks matched or started by the latest update, extrapolated to ``t_query`` seconds.

        With ``report_coasting`` also the live tracks it did not match, from their predicted
        state, after the others (det_index -1). Works on a copy: calling it never changes the tracker. Before any update, or after an
        update with no detections, nothing is reported. A ``t_query`` before the latest update
        time extrapolates backwards (an evaluation offset may ask for that).
        """
        t_query = float(t_query)
        if not math.isfinite(t_query):
            raise ValueError(f"Tracker.forecast: time must be finite, got {t_query}")
        current = self._step_seen == self._step
        sel = np.nonzero(current)[0] if self._time is not None else np.zeros(0, np.int64)
        sel = sel[np.argsort(self._det_index[sel], kind="stable")]
        if self.report_coasting and self._time is not None:
            sel = np.concatenate([sel, np.nonzero(~current)[0]])
        horizon = t_query - self._time if self._time is not None else 0.0
        start = self._mean[sel].copy()
        if self.anchor == "measurement":
            seen = current[sel]
            start[seen, :4] = self._z[sel[seen]]
        mean = self.kalman.predict_mean(start, horizon)
        return TrackForecast(
            boxes=state_to_xyxy(mean),
            scores=self._scores[sel].copy(),
            labels=self._labels[sel].copy(),
            ids=self._ids[sel].copy(),
            det_index=np.where(current[sel], self._det_index[sel], -1),
        )
