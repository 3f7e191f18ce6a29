"""The pairing rule: latest output with t_done <= (j - eta) / fps (the sAP toolkit's sign),
boundary included; at most max_det detections per frame; forecasts to the frame's own time."""
from __future__ import annotations

import numpy as np
import pytest

from data.detections import Detections
from eval_streaming.pairing import offline_predictions, pair_outputs
from streaming.log import StreamOutput
from streaming.scheduler import run_schedule


def _tagged(frame_index: int) -> Detections:
    """Detections that say which frame they came from (score = index / 1000)."""
    return Detections(np.array([[0, 0, 10, 10]], np.float32), np.array([frame_index / 1000]), np.array([0]))


def _outputs(frames: list[int], t_done: list[float]) -> list[StreamOutput]:
    return [StreamOutput(t, t, f, 0.0, _tagged(f)) for f, t in zip(frames, t_done)]


def _source(pairing) -> list[int]:
    return pairing.source_frame.tolist()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_frame_latency_pairs_j_with_j_minus_k_exact_floats(k):
    fps, n = 32.0, 20  # (j + k) / 32 is exact: t_done == t_query exactly on the boundary
    outs = _outputs(list(range(n)), [(j + k) / fps for j in range(n)])
    p = pair_outputs(outs, num_frames=n, fps=fps)
    assert _source(p) == [-1] * k + list(range(n - k))
    assert p.missed == k
    assert [round(float(d.scores[0]) * 1000) for d in p.predictions[k:]] == list(range(n - k))
    assert all(len(d) == 0 for d in p.predictions[:k])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_frame_latency_in_thirtieths_uses_the_epsilon(k):
    fps, n = 30.0, 90
    done = [j / 30 + k * (1 / 30) for j in range(n)]  # e.g. 0.1 + 1/30 = 0.13333333333333336 > 4/30
    assert any(t * 30 > j + k for j, t in enumerate(done))  # the float noise is really there
    p = pair_outputs(_outputs(list(range(n)), done), num_frames=n, fps=fps)
    assert _source(p) == [-1] * k + list(range(n - k))


def test_just_after_the_query_time_is_not_paired():
    outs = _outputs([0, 1], [1 / 30 + 1e-6, 2 / 30])
    assert _source(pair_outputs(outs, num_frames=3, fps=30)) == [-1, -1, 1]


def test_simulated_one_frame_latency_accumulates_float_time():
    jobs = run_schedule(lambda i: 1 / 30, fps=30, num_frames=200)
    outs = _outputs([j.frame_index for j in jobs], [j.t_done for j in jobs])
    p = pair_outputs(outs, num_frames=200, fps=30)
    assert _source(p) == [-1] + list(range(199))
    assert p.in_time == 0 and np.nanmean(p.frames_behind) == 1.0


def test_simulated_two_frame_latency_pairs_latest_finished():
    jobs = run_schedule(lambda i: 2 / 30, fps=30, num_frames=12)  # frames 0, 2, 4, ... done at +2
    outs = _outputs([j.frame_index for j in jobs], [j.t_done for j in jobs])
    p = pair_outputs(outs, num_frames=12, fps=30)
    assert _source(p) == [-1, -1, 0, 0, 2, 2, 4, 4, 6, 6, 8, 8]


def test_missed_frames_before_first_output():
    outs = _outputs([0, 3], [2.5 / 30, 5.5 / 30])
    p = pair_outputs(outs, num_frames=8, fps=30)
    assert _source(p) == [-1, -1, -1, 0, 0, 0, 3, 3]
    assert p.missed == 3
    assert p.in_time == 0
    assert np.isnan(p.frames_behind[:3]).all()
    assert p.frames_behind[3:].tolist() == [3, 4, 5, 3, 4]


def test_no_outputs_at_all_misses_everything():
    p = pair_outputs([], num_frames=4, fps=30)
    assert _source(p) == [-1] * 4 and p.missed == 4 and all(len(d) == 0 for d in p.predictions)


def test_zero_latency_is_in_time_and_eta_shifts_queries():
    outs = _outputs(list(range(6)), [j / 30 for j in range(6)])
    p = pair_outputs(outs, num_frames=6, fps=30)
    assert _source(p) == list(range(6)) and p.in_time == 6
    late = _outputs(list(range(6)), [(j + 1) / 30 for j in range(6)])
    # eta = -1 queries one frame later (the toolkit's "eta >= -1"), eta = 0.5 half a frame earlier
    assert _source(pair_outputs(late, num_frames=6, fps=30, eta=-1.0)) == list(range(6))
    assert _source(pair_outputs(late, num_frames=6, fps=30, eta=0.5)) == [-1, -1, 0, 1, 2, 3]


def test_outputs_must_be_in_completion_order():
    with pytest.raises(ValueError, match="completion"):
        pair_outputs(_outputs([0, 1], [0.2, 0.1]), num_frames=3, fps=30)


class RecordingForecaster:
    """Stands in for a tracker: records the calls the pairing loop makes."""

    def __init__(self):
        self.calls = []

    def reset(self):
        self.calls.append(("reset",))

    def update(self, detections, t_input):
        self.calls.append(("update", round(t_input * 30, 9)))

    def forecast(self, t_query):
        self.calls.append(("forecast", round(t_query * 30, 9)))
        return _tagged(999)


def test_forecaster_fed_in_completion_order_and_queried_at_frame_times():
    outs = _outputs([0, 2, 5], [1.5 / 30, 3 / 30, 6.2 / 30])
    f = RecordingForecaster()
    p = pair_outputs(outs, num_frames=8, fps=30, eta=0.0, forecaster=f)
    assert f.calls == [
        ("reset",),
        ("update", 0), ("forecast", 2), ("update", 2), ("forecast", 3), ("forecast", 4),
        ("forecast", 5), ("forecast", 6), ("update", 5), ("forecast", 7),
    ]
    assert [len(d) for d in p.predictions[:2]] == [0, 0]  # nothing to forecast from yet
    assert all(round(float(d.scores[0]) * 1000) == 999 for d in p.predictions[2:])
    assert _source(p) == [-1, -1, 0, 2, 2, 2, 2, 5]


def test_offline_predictions_per_frame():
    outs = _outputs([0, 2], [0.0, 2 / 30])
    per_frame = offline_predictions(outs, 3)
    assert per_frame[1] is None and round(float(per_frame[2].scores[0]) * 1000) == 2


def test_forecasts_go_to_the_frame_time_whatever_eta():
    outs = _outputs([0, 2], [1 / 30, 3 / 30])
    f = RecordingForecaster()
    pair_outputs(outs, num_frames=5, fps=30, eta=-1.0, forecaster=f)
    assert [c[1] for c in f.calls if c[0] == "forecast"] == [0, 1, 2, 3, 4]


def test_at_most_max_det_detections_per_frame_the_highest_scoring():
    import numpy as np

    from data.detections import Detections

    scores = np.linspace(0.01, 0.99, 150).astype(np.float32)[::-1].copy()
    np.random.default_rng(0).shuffle(scores)
    dets = Detections(np.tile([0, 0, 5, 5], (150, 1)), scores, np.zeros(150, np.int64))
    outs = [StreamOutput(0.0, 0.0, 0, 0.0, dets)]
    kept = pair_outputs(outs, num_frames=1, fps=30).predictions[0]
    assert len(kept) == 100 and kept.scores.min() >= np.sort(scores)[-100]
    assert len(pair_outputs(outs, num_frames=1, fps=30, max_det=300).predictions[0]) == 150


def test_toolkit_timing_compares_raw_float_times():
    # 0.1 + 0.2 s is 0.30000000000000004 s: past frame 9's query (9 / 30 = 0.3 s) in raw floats
    # (the toolkit), at it in frame units with the tolerance (exact).
    outs = _outputs([7], [0.1 + 0.2])
    assert _source(pair_outputs(outs, num_frames=11, fps=30, timing="exact"))[9] == 7
    toolkit = _source(pair_outputs(outs, num_frames=11, fps=30, timing="toolkit"))
    assert toolkit[9] == -1 and toolkit[10] == 7
    with pytest.raises(ValueError, match="timing"):
        pair_outputs(outs, num_frames=11, fps=30, timing="fast")
