"""The sAP toolkit's reference forecaster: its filter, association and reporting rules."""
from __future__ import annotations

import numpy as np
import pytest

from data.detections import Detections
from streaming.run import build_parser
from trackers import FORECAST_METHODS, ForecastConfig, build_forecaster
from trackers.sap_kalman import SapKalmanForecaster, match_by_score

FPS = 30.0


def dets(boxes, scores=None, labels=None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Detections(boxes, np.ones(n) if scores is None else scores, np.zeros(n) if labels is None else labels)


def test_registered_for_every_cli():
    assert "sap-kalman" in FORECAST_METHODS
    assert isinstance(build_forecaster(ForecastConfig(method="sap-kalman")), SapKalmanForecaster)
    assert build_parser().parse_args(["--forecast", "sap-kalman"]).forecast == "sap-kalman"


def test_constant_velocity_is_learnt_and_extrapolated_in_frames():
    f = SapKalmanForecaster(image_size=(1000, 1000), fps=FPS)
    for i in range(30):  # 3 px / frame to the right
        f.update(dets([100 + 3 * i, 100, 160 + 3 * i, 150]), i / FPS)
    last = 100 + 3 * 29
    out = f.forecast(29 / FPS + 4 / FPS)  # 4 frames ahead
    np.testing.assert_allclose(out.boxes[0], [last + 12, 100, last + 72, 150], atol=0.5)


def test_new_objects_unmoved_and_vanished_ones_forgotten():
    f = SapKalmanForecaster(fps=FPS)
    f.update(dets([[0, 0, 20, 20], [200, 200, 240, 240]]), 0.0)
    f.update(dets([[2, 0, 22, 20]]), 1 / FPS)  # the second object is not in this output
    out = f.forecast(5 / FPS)
    assert len(out) == 1 and out.boxes[0, 0] > 2.0  # the matched one moves on
    f.update(dets([[500, 500, 520, 530]]), 2 / FPS)  # unmatched: a new track, reported as detected
    np.testing.assert_allclose(f.forecast(9.0).boxes, [[500, 500, 520, 530]])


def test_association_by_score_then_iou_and_class():
    tracks = np.array([[0, 0, 10, 10], [0, 0, 10, 12]], np.float64)
    d = dets([[0, 0, 10, 11], [0, 0, 10, 12]], scores=[0.9, 0.5])
    # The higher-scored detection picks first (its best track is track 0 or 1 by IoU).
    pairs = match_by_score(tracks, np.zeros(2, np.int64), d, 0.3)
    assert pairs[0, 1] == 0 and sorted(pairs[:, 0].tolist()) == [0, 1]
    other = dets([[0, 0, 10, 10]], labels=[1])
    assert len(match_by_score(tracks, np.zeros(2, np.int64), other, 0.3)) == 0


def test_boxes_are_clipped_and_degenerate_ones_dropped():
    f = SapKalmanForecaster(image_size=(100, 100), fps=FPS)
    for i in range(5):  # last box [88, 10, 98, 20]
        f.update(dets([80 + 2 * i, 10, 90 + 2 * i, 20]), i / FPS)
    near = f.forecast(7 / FPS)  # about [94, 104] -> [94, 100]
    assert len(near) == 1 and near.boxes[0, 2] == pytest.approx(100.0) and 93 < near.boxes[0, 0] < 95
    assert len(f.forecast(40 / FPS)) == 0  # extrapolated out of the image


def test_bad_arguments():
    with pytest.raises(ValueError, match="fps"):
        SapKalmanForecaster(fps=0)
    with pytest.raises(ValueError, match="finite"):
        SapKalmanForecaster().update(dets([0, 0, 1, 1]), float("nan"))
