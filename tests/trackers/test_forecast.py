"""Forecaster API: extrapolation accuracy, clipping, score decay, ordering, configs, ByteTrack."""
import math

import numpy as np
import pytest

from data.config import ConfigError, from_dict, load_config
from data.detections import Detections
from trackers import ForecastConfig, build_forecaster


def dets(boxes, labels=None, scores=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    labels = np.zeros(n, np.int64) if labels is None else np.asarray(labels)
    scores = np.full(n, 0.9, np.float32) if scores is None else np.asarray(scores, np.float32)
    return Detections(boxes, scores, labels)


def moving_box(t, start=(400.0, 500.0, 100.0, 120.0), vel=(80.0, -30.0, 10.0, 12.0)):
    """xyxy of a box whose centre and size change at constant rates (px, px/s)."""
    cx, cy, w, h = (s + v * t for s, v in zip(start, vel))
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


@pytest.mark.parametrize("method", ["kalman", "bytetrack"])
@pytest.mark.parametrize("dt", [1 / 30, 0.1, 0.37])
@pytest.mark.parametrize("horizon", [0.0, 1 / 30, 0.25, 1.0])
def test_constant_velocity_forecast_within_half_pixel(method, dt, horizon):
    f = build_forecaster(ForecastConfig(method=method), image_size=(1920, 1200))
    t0 = 2.0  # streams do not have to start at 0
    f.update(dets([moving_box(0.0)]), t0)
    out = f.forecast(t0 + horizon)
    np.testing.assert_allclose(out.boxes[0], moving_box(0.0), atol=1e-4)  # seen once: no motion
    for k in (1, 2, 3):
        f.update(dets([moving_box(k * dt)]), t0 + k * dt)
        out = f.forecast(t0 + k * dt + horizon)
        assert len(out) == 1
        err = np.abs(out.boxes[0] - moving_box(k * dt + horizon)).max()
        assert err < 0.5, f"after {k + 1} updates: error {err:.3f} px"


def test_none_returns_last_detections_unchanged():
    f = build_forecaster(ForecastConfig(method="none"), image_size=(100, 100))
    assert len(f.forecast(0.0)) == 0
    d = dets([[-5, 10, 500, 20], [1, 1, 2, 2]], labels=[3, 4], scores=[0.2, 0.7])
    f.update(d, 0.5)
    out = f.forecast(9.0)
    for a, b in ((out.boxes, d.boxes), (out.scores, d.scores), (out.labels, d.labels)):
        np.testing.assert_array_equal(a, b)
    f.reset()
    assert len(f.forecast(9.0)) == 0


def test_boxes_clipped_to_image_and_dropped_when_degenerate():
    f = build_forecaster(ForecastConfig(), image_size=(640, 480))
    for k in range(3):  # 40 px wide, moving right at 100 px/s: [580, 620] at t = 0.2 s
        x = 560 + 100 * k / 10
        f.update(dets([[x, 100, x + 40, 140]]), k / 10)
    np.testing.assert_allclose(f.forecast(0.25).boxes[0], [585, 100, 625, 140], atol=1e-3)
    clipped = f.forecast(0.5)  # [610, 650] -> [610, 640]
    np.testing.assert_allclose(clipped.boxes[0], [610, 100, 640, 140], atol=1e-3)
    assert len(f.forecast(0.2 + 0.58)) == 1  # 2 px left inside
    assert len(f.forecast(0.2 + 0.595)) == 0  # 0.5 px inside: dropped
    assert len(f.forecast(5.0)) == 0


def test_score_decay_with_horizon():
    f = build_forecaster(ForecastConfig(score_decay_per_s=2.0))
    f.update(dets([[10, 10, 50, 50]], scores=[0.8]), 1.0)
    assert f.forecast(1.0).scores[0] == pytest.approx(0.8)
    assert f.forecast(1.5).scores[0] == pytest.approx(0.8 * math.exp(-1.0), rel=1e-6)
    off = build_forecaster(ForecastConfig())
    off.update(dets([[10, 10, 50, 50]], scores=[0.8]), 1.0)
    assert off.forecast(3.0).scores[0] == pytest.approx(0.8)


def test_output_follows_latest_detection_order_and_labels():
    f = build_forecaster(ForecastConfig())
    a, b, c = [10, 10, 50, 50], [200, 10, 240, 50], [400, 10, 440, 50]
    f.update(dets([a, b, c], labels=[0, 1, 2], scores=[0.1, 0.2, 0.3]), 0.0)
    f.update(dets([c, a, b], labels=[2, 0, 1], scores=[0.3, 0.1, 0.2]), 0.1)
    out, ids = f.forecast_with_ids(0.2)
    assert out.labels.tolist() == [2, 0, 1] and ids.tolist() == [2, 0, 1]
    np.testing.assert_allclose(out.scores, [0.3, 0.1, 0.2])
    np.testing.assert_allclose(out.boxes, np.array([c, a, b], np.float32))


def test_no_detections_no_forecasts():
    for method in ("none", "kalman", "bytetrack"):
        f = build_forecaster(ForecastConfig(method=method), image_size=(640, 480))
        assert len(f.forecast(0.0)) == 0
        f.update(dets([[10, 10, 50, 50]]), 0.0)
        f.update(dets([]), 0.1)
        assert len(f.forecast(0.2)) == 0, method


def test_bytetrack_keeps_track_through_low_score_detection():
    f = build_forecaster(ForecastConfig(method="bytetrack", high_score=0.5, low_score=0.1))
    scores = [0.9, 0.9, 0.2, 0.2, 0.9]
    for k, s in enumerate(scores):
        f.update(dets([moving_box(k / 10)], scores=[s]), k / 10)
        out, ids = f.forecast_with_ids(k / 10 + 0.1)
        assert ids.tolist() == [0], f"step {k}"
        assert out.scores[0] == pytest.approx(s)
        assert np.abs(out.boxes[0] - moving_box(k / 10 + 0.1)).max() < (0.5 if k else 100)
    assert f.tracker.num_tracks == 1


def test_bytetrack_low_score_detections_never_start_tracks():
    cfg = ForecastConfig(method="bytetrack", high_score=0.5, low_score=0.1)
    f = build_forecaster(cfg)
    f.update(dets([[10, 10, 50, 50], [300, 10, 340, 50], [600, 10, 640, 50]], scores=[0.3, 0.9, 0.05]), 0.0)
    out, ids = f.forecast_with_ids(0.1)
    assert ids.tolist() == [-1, 0, -1]  # reported unmoved so that no recall is lost
    assert f.tracker.num_tracks == 1
    f.update(dets([[10, 10, 50, 50]], scores=[0.3]), 0.1)  # still no track to continue
    assert f.tracker.untracked.tolist() == [0]
    quiet = build_forecaster(ForecastConfig(method="bytetrack", report_untracked=False))
    quiet.update(dets([[10, 10, 50, 50], [300, 10, 340, 50]], scores=[0.3, 0.9]), 0.0)
    assert len(quiet.forecast(0.1)) == 1
    # The plain Kalman tracker starts a track from any detection.
    k = build_forecaster(ForecastConfig(method="kalman"))
    k.update(dets([[10, 10, 50, 50]], scores=[0.05]), 0.0)
    assert k.forecast_with_ids(0.0)[1].tolist() == [0]


def test_bytetrack_low_score_does_not_revive_lost_track():
    f = build_forecaster(ForecastConfig(method="bytetrack", max_age=1.0))
    f.update(dets([[100, 100, 160, 180]], scores=[0.9]), 0.0)
    f.update(dets([]), 0.1)  # the track is now coasting ("lost")
    f.update(dets([[100, 100, 160, 180]], scores=[0.3]), 0.2)
    assert f.forecast_with_ids(0.2)[1].tolist() == [-1]
    f.update(dets([[100, 100, 160, 180]], scores=[0.9]), 0.3)  # a confident box revives it
    assert f.forecast_with_ids(0.3)[1].tolist() == [0]


def test_forecasting_twice_gives_the_same_result():
    for method in ("kalman", "bytetrack"):
        f = build_forecaster(ForecastConfig(method=method), image_size=(1920, 1200))
        for k in range(5):
            f.update(dets([moving_box(k / 30), moving_box(k / 30, start=(900, 300, 50, 50))]), k / 30)
        first = f.forecast(0.5)
        f.forecast(3.0)
        second = f.forecast(0.5)
        np.testing.assert_array_equal(first.boxes, second.boxes)
        np.testing.assert_array_equal(first.scores, second.scores)


def test_config_from_yaml_with_overrides(tmp_path):
    path = tmp_path / "forecast.yaml"
    path.write_text("method: bytetrack\nmax_age: 0.8\n")
    cfg = load_config(ForecastConfig, path, ["association=greedy", "score_decay_per_s=0.5"])
    assert (cfg.method, cfg.max_age, cfg.association, cfg.score_decay_per_s) == ("bytetrack", 0.8, "greedy", 0.5)
    f = build_forecaster(cfg, image_size=(10, 10))
    assert f.tracker.association == "greedy" and f.tracker.max_age == 0.8
    with pytest.raises(ConfigError, match="forecast.method"):
        load_config(ForecastConfig, path, ["method=sort"])
    with pytest.raises(ConfigError, match="unknown config key"):
        from_dict(ForecastConfig, {"max_age_frames": 5})
    with pytest.raises(ConfigError, match="forecast.min_iou"):
        ForecastConfig(min_iou=0.0)
    with pytest.raises(ConfigError, match="forecast.low_score"):
        ForecastConfig(low_score=0.6, high_score=0.5)


@pytest.mark.parametrize("method", ["kalman", "bytetrack"])
def test_zero_horizon_returns_the_input(method):
    """The filter only adds motion: at the input's own time the detections come back as given,
    even after jittery updates; the toolkit-style posterior anchor does not."""
    rng = np.random.default_rng(0)
    f = build_forecaster(ForecastConfig(method=method), image_size=(1920, 1200))
    posterior = build_forecaster(ForecastConfig(method=method, anchor="filtered"), image_size=(1920, 1200))
    for i in range(10):
        d = dets([np.add(moving_box(i / 30), rng.normal(0, 2, 4)), [1000, 100, 1040, 180]])
        f.update(d, i / 30)
        posterior.update(d, i / 30)
    np.testing.assert_allclose(f.forecast(9 / 30).boxes, d.boxes, atol=1e-3)
    assert np.abs(posterior.forecast(9 / 30).boxes - d.boxes).max() > 0.01


def test_coasting_tracks_only_on_request():
    f = build_forecaster(ForecastConfig(report_coasting=True))
    quiet = build_forecaster(ForecastConfig())
    for forecaster in (f, quiet):
        for i in range(3):
            forecaster.update(dets([moving_box(i / 30), [1000, 100, 1040, 180]]), i / 30)
        forecaster.update(dets([moving_box(3 / 30)]), 3 / 30)  # the second object is missed once
    assert len(quiet.forecast(4 / 30)) == 1
    both = f.forecast(4 / 30)
    assert len(both) == 2 and both.boxes[1, 0] == pytest.approx(1000.0, abs=0.5)  # after the seen one


def test_vertical_noise_is_its_own_setting():
    with pytest.raises(ConfigError, match="vertical_accel_std"):
        ForecastConfig(vertical_accel_std=-1)
    with pytest.raises(ConfigError, match="anchor"):
        ForecastConfig(anchor="posterior")
