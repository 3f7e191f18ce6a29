"""Hand-computed streaming timelines: frame dropping, waiting, shrinking-tail, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest

from streaming.latency import parse_latency
from streaming.scheduler import (
    Scheduler,
    SchedulerError,
    frame_at,
    run_schedule,
    shrinking_tail_waits,
)


def frames(runtime_s: float, *, fps: float = 30.0, n: int = 20, policy: str = "greedy") -> list[int]:
    return [j.frame_index for j in run_schedule(lambda i: runtime_s, fps=fps, num_frames=n, policy=policy)]


def test_frame_at_guards_float_error():
    assert frame_at(3 * (1 / 30), 30) == 3  # 0.1 * 30 = 3.0000000000000004 and friends
    assert frame_at(sum([1 / 30] * 3), 30) == 3  # 0.09999999999999999 * 30 = 2.9999999999999996
    assert frame_at(0.0999, 30) == 2


def test_zero_latency_processes_every_frame_at_arrival():
    jobs = run_schedule(lambda i: 0.0, fps=30, num_frames=10)
    assert [j.frame_index for j in jobs] == list(range(10))
    assert [j.t_done for j in jobs] == [i / 30 for i in range(10)]


def test_latency_one_and_a_half_frames_drops_every_third_frame():
    # Free at 1.5 -> frame 1; at 3.0 -> frame 3 (frame 2 dropped); at 4.5 -> 4; at 6.0 -> 6 ...
    assert frames(1.5 / 30) == [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19]
    jobs = run_schedule(lambda i: 0.05, fps=30, num_frames=8)
    assert [round(j.t_start * 30, 9) for j in jobs] == [0, 1.5, 3, 4.5, 6, 7.5]  # 7.5 -> frame 7 < 8


def test_latency_2_3_frames():
    # starts (frames): 0, 2.3, 4.6, 6.9, 9.2, 11.5, 13.8, 16.1, 18.4; free at 20.7 >= 20: stream over
    assert frames(2.3 / 30) == [0, 2, 4, 6, 9, 11, 13, 16, 18]


def test_exact_k_frame_latency_in_exact_floats():
    # fps 32: 2/32 is exact, so t_done lands exactly on arrival times
    jobs = run_schedule(lambda i: 2 / 32, fps=32, num_frames=11)
    assert [j.frame_index for j in jobs] == [0, 2, 4, 6, 8, 10]
    assert [j.t_done for j in jobs] == [(i + 2) / 32 for i in range(0, 11, 2)]


def test_one_frame_latency_based_on_1_over_30_keeps_every_frame():
    # Accumulated 1/30 steps drift below k/30 (e.g. 2.9999999999999996); the epsilon keeps frame k.
    jobs = run_schedule(lambda i: 1 / 30, fps=30, num_frames=300)
    assert [j.frame_index for j in jobs] == list(range(300))
    assert all(abs(j.t_start - j.frame_index / 30) < 1e-12 for j in jobs)


def test_waits_for_next_frame_when_latest_already_processed():
    # 0.4 frames: free at 0.4 with frame 0 done -> wait until frame 1 arrives at 1/30
    jobs = run_schedule(lambda i: 0.4 / 30, fps=30, num_frames=4)
    assert [j.frame_index for j in jobs] == [0, 1, 2, 3]
    assert [j.t_start for j in jobs] == [0.0, 1 / 30, 2 / 30, 3 / 30]


def test_no_frames_beyond_the_sequence():
    jobs = run_schedule(lambda i: 5 / 30, fps=30, num_frames=7)
    assert [j.frame_index for j in jobs] == [0, 5]  # free at 10/30 >= 7/30: over
    assert run_schedule(lambda i: 0.0, fps=30, num_frames=0) == []


@pytest.mark.parametrize(
    "position,r,expected",
    [
        (10.5, 1.5, True),   # floor(0.5 + 1.5) = 2 > 1.5: same interval either way, so wait
        (10.4, 1.5, False),  # floor(1.9) = 1 < 1.5
        (10.9, 2.0, False),  # integer runtime: never wait
        (3.7, 0.5, False),   # faster than real time: rule off
        (6.9, 2.3, True),
        (6.6, 2.3, False),
        (6.7, 2.3, True),    # boundary f + r = 3 exactly
        (3 * (1 / 30) * 30, 1.5, False),  # 2.9999999999999996: phase 0, not 0.99...
    ],
)
def test_shrinking_tail_decision(position, r, expected):
    assert shrinking_tail_waits(position, r) is expected


def test_shrinking_tail_timelines():
    # 1.5: free at 1.5 (f=.5) -> wait for frame 2; every decision then repeats.
    assert frames(1.5 / 30, policy="shrinking-tail") == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    # 2.3: 0 | 2.3 go | 4.6 go | 6.9 wait -> 7 | 9.3 go | 11.6 go | 13.9 wait -> 14 | 16.3 | 18.6
    assert frames(2.3 / 30, policy="shrinking-tail") == [0, 2, 4, 7, 9, 11, 14, 16, 18]
    jobs = run_schedule(lambda i: 2.3 / 30, fps=30, num_frames=20, policy="shrinking-tail")
    assert jobs[3].t_start == 7 / 30


def test_shrinking_tail_uses_running_mean():
    s = Scheduler(fps=10, num_frames=100, policy="shrinking-tail")
    assert s.next_job(0.0) == (0, 0.0)
    s.finished(0, 0.1)
    s.finished(0, 0.2)  # mean 1.5 frames
    assert s.mean_runtime_frames == pytest.approx(1.5)
    assert s.next_job(1.05) == (11, 1.1)  # phase .5: floor(2.0) > 1.5 -> wait for frame 11
    assert s.next_job(1.04) == (10, 1.04)


def test_bad_policy_and_runtime():
    with pytest.raises(SchedulerError, match="unknown scheduling policy"):
        Scheduler(fps=30, num_frames=3, policy="fastest")
    with pytest.raises(SchedulerError, match="runtime"):
        run_schedule(lambda i: -1.0, fps=30, num_frames=3)


def _expected_picks(runtimes: list[float], fps: float, n: int) -> list[int]:
    """The greedy rule written out independently of the scheduler, for drawn runtimes."""
    picks, t, last = [], 0.0, -1
    for rt in runtimes:
        latest = math.floor(t * fps + 1e-9)
        if latest <= last:
            latest, t = last + 1, (last + 1) / fps
        if latest >= n:
            break
        picks.append(latest)
        last, t = latest, t + rt
    return picks


def test_profile_with_jitter_is_seeded_and_follows_the_rule(tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text("[0.021, 0.047, 0.09, 0.033]")

    def timeline(seed: int, key: int = 0):
        model = parse_latency(f"profile:{profile}", seed=seed)
        model.reset(key)
        return run_schedule(lambda i: model.runtime(None), fps=30, num_frames=120)

    jobs = timeline(7)
    drawn = [j.runtime for j in jobs]
    assert set(drawn) <= {0.021, 0.047, 0.09, 0.033} and len(set(drawn)) == 4
    assert [j.frame_index for j in jobs] == _expected_picks(drawn, 30, 120)
    assert timeline(7) == jobs  # same seed, same timeline
    assert timeline(8) != jobs
    assert timeline(7, key=1) != jobs  # each sequence draws its own runtimes


def test_perf_factor_divides_runtimes():
    fast = parse_latency("fixed:0.1", perf_factor=2.0)
    assert fast.runtime(None) == 0.05
    assert frames(fast.runtime(None)) == frames(0.05)
    measured = parse_latency("measured", perf_factor=1.25)
    assert measured.runtime(0.05) == pytest.approx(0.04)
    assert np.isclose(parse_latency("fixed:0.2", perf_factor=1.2).runtime(None), 0.2 / 1.2)


def test_shrinking_tail_uses_the_known_mean_runtime_like_the_sap_toolkit() -> None:
    # fps 4: frame period 0.25 s. One call took 0.3 s (1.2 frames); the latency model's mean is
    # 0.375 s (1.5 frames). Free at 0.4 s = frame position 1.6, phase 0.6.
    known = Scheduler(fps=4, num_frames=10, policy="shrinking-tail", expected_runtime=0.375)
    learned = Scheduler(fps=4, num_frames=10, policy="shrinking-tail")
    for s in (known, learned):
        s.finished(0, 0.3)
    assert known.next_job(0.4) == (2, 0.5)  # 1.5 < floor(0.6 + 1.5) = 2: wait for frame 2
    assert learned.next_job(0.4) == (1, 0.4)  # 1.2 < floor(0.6 + 1.2) = 1 is false: go now


# Frames the sAP toolkit's simulator processes at 30 FPS over 40 frames, worked by hand in its
# float arithmetic: 0.1 s accumulated eight times is 0.7999999999999999 s (frame 23, not 24);
# an output that would finish at or after 40 / 30 s is dropped.
TOOLKIT_FRAMES = {
    (0.1, "greedy"): [0, 3, 6, 9, 12, 15, 18, 21, 23, 26, 29, 32, 36],
    (0.1, "shrinking-tail"): [0, 3, 6, 9, 12, 15, 18, 21, 23, 26, 29, 32, 36],  # r = 3 frames: never waits
    (0.15, "greedy"): [0, 4, 9, 13, 18, 22, 27, 31],
    # r = 4.5 frames: free at phase 0.5, waits for the next frame; 10/30 + 0.15 s is
    # 14.499999999999998 frames, phase < 0.5, so frame 14 is taken at once.
    (0.15, "shrinking-tail"): [0, 5, 10, 14, 19, 24, 29, 34],
}
EXACT_FRAMES = {
    (0.1, "greedy"): list(range(0, 40, 3)),
    (0.15, "greedy"): [0, 4, 9, 13, 18, 22, 27, 31, 36],
    (0.15, "shrinking-tail"): list(range(0, 40, 5)),
}


@pytest.mark.parametrize("runtime_s,policy", list(TOOLKIT_FRAMES))
def test_toolkit_timing_reproduces_the_toolkits_frames(runtime_s, policy):
    jobs = run_schedule(lambda i: runtime_s, fps=30, num_frames=40, policy=policy, expected_runtime=runtime_s,
                        timing="toolkit")
    assert [j.frame_index for j in jobs] == TOOLKIT_FRAMES[runtime_s, policy]
    assert all(j.t_done < 40 / 30 for j in jobs)


@pytest.mark.parametrize("runtime_s,policy", list(EXACT_FRAMES))
def test_exact_timing_on_the_same_settings(runtime_s, policy):
    jobs = run_schedule(lambda i: runtime_s, fps=30, num_frames=40, policy=policy, expected_runtime=runtime_s)
    assert [j.frame_index for j in jobs] == EXACT_FRAMES[runtime_s, policy]


def test_eta_must_be_finite_and_at_least_minus_one():
    from streaming.scheduler import check_eta

    assert check_eta(-1) == -1.0 and check_eta(2.5) == 2.5
    for bad in (float("nan"), float("inf"), -1.5, True):
        with pytest.raises(ValueError, match="finite number >= -1"):
            check_eta(bad)
