"""Tracker: ids through crossings, ageing by seconds, no-mutation forecasts, bounded memory."""
import tracemalloc

import numpy as np
import pytest

from data.detections import Detections
from trackers.tracker import Tracker


def dets(boxes, labels=None, scores=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    labels = np.zeros(n, np.int64) if labels is None else np.asarray(labels)
    scores = np.full(n, 0.9, np.float32) if scores is None else np.asarray(scores)
    return Detections(boxes, scores, labels)


def box_at(cx, cy, w=60.0, h=80.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


@pytest.mark.parametrize("association", ["optimal", "greedy"])
@pytest.mark.parametrize("dt", [1 / 30, 0.1, 0.15])
def test_crossing_objects_keep_their_ids(association, dt):
    tracker = Tracker(association=association)
    steps = int(round(2.0 / dt))
    for k in range(steps + 1):
        t = k * dt
        # Same class, opposite directions, 10 px apart vertically: at t = 1 s they overlap almost
        # completely, so only the velocities can tell them apart.
        a = box_at(100 + 200 * t, 300)
        b = box_at(500 - 200 * t, 310)
        tracker.update(dets([a, b]), t)
        out = tracker.forecast(t)
        assert out.ids.tolist() == [0, 1], f"ids swapped at t={t:.3f}"
    assert tracker.num_tracks == 2
    np.testing.assert_allclose(tracker.mean[:, 4], [200.0, -200.0], atol=1e-6)


def test_track_removed_after_max_age_seconds_and_not_before():
    fps = 10
    tracker = Tracker(max_age=0.5)
    far = box_at(1500, 900)
    for i in range(3):  # object A seen at 0.0, 0.1, 0.2 s
        tracker.update(dets([box_at(200 + 10 * i, 300), far], labels=[0, 1]), i / fps)
    a_id = int(tracker.forecast(0.2).ids[0])
    for i in range(3, 12):
        t = i / fps
        tracker.update(dets([far], labels=[1]), t)
        alive = a_id in tracker.ids.tolist()
        assert alive == (t - 0.2 <= 0.5 + 1e-9), f"t={t}: alive={alive}"
        assert a_id not in tracker.forecast(t).ids.tolist()  # coasting tracks are not reported


def test_object_back_within_max_age_keeps_id_and_velocity():
    tracker = Tracker(max_age=0.5)
    for i in range(4):
        tracker.update(dets([box_at(200 + 30 * i, 300)]), i / 10)  # 300 px/s
    tracker.update(dets([]), 0.4)
    tracker.update(dets([]), 0.5)
    assert len(tracker.forecast(0.5).ids) == 0
    tracker.update(dets([box_at(200 + 30 * 6, 300)]), 0.6)
    out = tracker.forecast(0.6)
    assert out.ids.tolist() == [0]
    assert tracker.mean[0, 4] == pytest.approx(300.0, abs=1e-3)
    # Gone for longer than max_age: a new track.
    tracker.update(dets([box_at(200 + 30 * 13, 300)]), 1.3)
    assert tracker.forecast(1.3).ids.tolist() == [1]


def test_no_detections_no_forecasts():
    tracker = Tracker()
    out = tracker.forecast(1.0)
    assert len(out.boxes) == 0 and out.boxes.shape == (0, 4)
    tracker.update(dets([]), 0.0)
    assert len(tracker.forecast(0.5).ids) == 0
    tracker.update(dets([box_at(100, 100)]), 0.1)
    assert len(tracker.forecast(0.2).ids) == 1
    tracker.update(dets([]), 0.2)
    assert len(tracker.forecast(0.3).ids) == 0


def test_class_gating_in_tracker():
    tracker = Tracker()
    tracker.update(dets([box_at(100, 100)], labels=[2]), 0.0)
    tracker.update(dets([box_at(101, 100)], labels=[5]), 0.1)  # same place, other class
    assert tracker.num_tracks == 2
    assert tracker.forecast(0.1).ids.tolist() == [1]
    ungated = Tracker(class_gating=False)
    ungated.update(dets([box_at(100, 100)], labels=[2]), 0.0)
    ungated.update(dets([box_at(101, 100)], labels=[5]), 0.1)
    assert ungated.forecast(0.1).ids.tolist() == [0] and ungated.forecast(0.1).labels.tolist() == [5]


def test_forecast_does_not_mutate_state():
    rng = np.random.default_rng(0)
    tracker, twin = Tracker(), Tracker()
    for i in range(20):
        boxes = [box_at(100 + 5 * i + rng.normal(), 200), box_at(400, 300 - 4 * i + rng.normal())]
        tracker.update(dets(boxes), i / 30)
        twin.update(dets(boxes), i / 30)
        before = tracker.mean
        first = tracker.forecast(i / 30 + 0.5)
        second = tracker.forecast(i / 30 + 0.5)
        tracker.forecast(i / 30 + 3.0)
        np.testing.assert_array_equal(first.boxes, second.boxes)
        np.testing.assert_array_equal(tracker.mean, before)
    np.testing.assert_array_equal(tracker.mean, twin.mean)


def test_time_must_not_go_backwards_and_reset_restarts_ids():
    tracker = Tracker()
    tracker.update(dets([box_at(100, 100)]), 1.0)
    tracker.update(dets([box_at(100, 100)]), 1.0)  # same time is allowed
    with pytest.raises(ValueError, match="backwards"):
        tracker.update(dets([box_at(100, 100)]), 0.9)
    with pytest.raises(ValueError, match="finite"):
        tracker.update(dets([]), float("nan"))
    tracker.update(dets([box_at(900, 100)]), 2.0)
    assert tracker.ids.max() == 1
    tracker.reset()
    assert tracker.num_tracks == 0 and tracker.time is None
    tracker.update(dets([box_at(100, 100)]), 0.0)
    assert tracker.ids.tolist() == [0]


def test_memory_bounded_over_10000_frames_with_churn():
    """Objects constantly enter and leave; live tracks and arrays stay bounded."""
    rng = np.random.default_rng(7)
    fps, max_age = 30.0, 0.5
    tracker = Tracker(max_age=max_age)
    pos = np.zeros((0, 2))
    vel = np.zeros((0, 2))
    death = np.zeros(0)
    max_live_objects = max_tracks = max_bytes = 0
    try:
        for i in range(10_000):
            if i == 9_000:  # tracing is slow: watch the last 1000 frames for anything kept
                tracemalloc.start()
            t = i / fps
            keep = death > t
            pos, vel, death = pos[keep], vel[keep], death[keep]
            n_new = rng.poisson(0.5)  # ~15 objects per second enter, live 0.2-2 s
            pos = np.vstack([pos, rng.uniform([50, 50], [1870, 1150], (n_new, 2))])
            vel = np.vstack([vel, rng.normal(0, 100, (n_new, 2))])
            death = np.concatenate([death, t + rng.uniform(0.2, 2.0, n_new)])
            pos = pos + vel / fps
            seen = rng.uniform(size=len(pos)) > 0.1  # 10 % missed detections
            boxes = np.column_stack([pos - 20, pos + 20])[seen]
            tracker.update(dets(boxes, labels=rng.integers(0, 2, len(boxes))), t)
            tracker.forecast(t + 0.1)
            max_live_objects = max(max_live_objects, len(pos))
            max_tracks = max(max_tracks, tracker.num_tracks)
            max_bytes = max(max_bytes, tracker.nbytes)
        kept_bytes = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # Every live track was seen within max_age: at most (max_age * fps + 1) frames of detections.
    assert max_tracks <= max_live_objects * (max_age * fps + 1)
    assert max_tracks < 200
    assert max_bytes < 200 * 700
    assert tracker.ids.max() > 1000  # thousands of tracks came and went
    assert kept_bytes < 100_000
