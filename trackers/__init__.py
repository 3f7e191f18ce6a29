"""Kalman filter, IoU association, trackers and forecasters for streaming perception."""
from trackers.association import associate, gated_iou, match_greedy, match_optimal
from trackers.bytetrack import ByteTracker
from trackers.forecast import (
    FORECAST_METHODS,
    ForecastConfig,
    Forecaster,
    PassthroughForecaster,
    TrackingForecaster,
    build_forecaster,
)
from trackers.kalman import BoxKalmanFilter
from trackers.tracker import Tracker, TrackForecast

__all__ = [
    "FORECAST_METHODS",
    "BoxKalmanFilter",
    "ByteTracker",
    "ForecastConfig",
    "Forecaster",
    "PassthroughForecaster",
    "TrackForecast",
    "Tracker",
    "TrackingForecaster",
    "associate",
    "build_forecaster",
    "gated_iou",
    "match_greedy",
    "match_optimal",
]
