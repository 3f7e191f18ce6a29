"""Latency spec parsing and runtime profiles."""
from __future__ import annotations

import json

import numpy as np
import pytest

from streaming.latency import (
    FixedLatency,
    LatencySpecError,
    MeasuredLatency,
    ProfileLatency,
    load_profile,
    parse_latency,
)


def test_parse_specs(tmp_path):
    assert isinstance(parse_latency("measured"), MeasuredLatency)
    fixed = parse_latency("fixed:0.033")
    assert isinstance(fixed, FixedLatency) and fixed.runtime(123.0) == 0.033  # ignores measurements
    p = tmp_path / "p.txt"
    p.write_text("0.01\n0.02, 0.03\n")
    prof = parse_latency(f"profile:{p}", seed=3)
    assert isinstance(prof, ProfileLatency)
    assert prof.runtimes.tolist() == [0.01, 0.02, 0.03]


@pytest.mark.parametrize("spec", ["fast", "fixed:", "fixed:abc", "fixed:-1", "fixed:nan", "profile:", "measured:3"])
def test_bad_specs_are_clear(spec):
    with pytest.raises(LatencySpecError, match="latency|spec"):
        parse_latency(spec)


def test_bad_perf_factor():
    with pytest.raises(LatencySpecError, match="perf_factor"):
        parse_latency("fixed:0.1", perf_factor=0)


def test_measured_needs_a_measurement():
    with pytest.raises(LatencySpecError, match="measured"):
        parse_latency("measured").runtime(None)


def test_profile_formats_and_errors(tmp_path):
    saved = tmp_path / "runtime_profile.json"
    saved.write_text(json.dumps({"runtimes": [0.05, 0.06], "model": "x"}))
    assert load_profile(saved).tolist() == [0.05, 0.06]
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_profile(missing)
    for name, text, msg in [
        ("empty.json", "[]", "empty"),
        ("neg.json", "[0.1, -0.2]", "negative"),
        ("obj.json", '{"times": [1]}', "runtimes"),
        ("words.txt", "fast slow", "neither JSON"),
        ("strs.json", '["0.1"]', "list of numbers"),
    ]:
        f = tmp_path / name
        f.write_text(text)
        with pytest.raises(LatencySpecError, match=msg) as e:
            load_profile(f)
        assert name in str(e.value)


def test_profile_sampling_is_seeded_per_sequence(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(np.linspace(0.01, 0.1, 10).tolist()))

    def draws(seed, key):
        m = parse_latency(f"profile:{f}", seed=seed)
        m.reset(key)
        return [m.runtime(None) for _ in range(20)]

    assert draws(0, 0) == draws(0, 0)
    assert draws(0, 0) != draws(1, 0)
    assert draws(0, 0) != draws(0, 1)


def test_trace_replays_runtimes_in_order_per_sequence(tmp_path):
    import json as _json

    from streaming.latency import parse_latency

    profile = tmp_path / "runtime_profile.json"
    profile.write_text(_json.dumps({"runtimes": [0.1, 0.2, 0.3]}))
    model = parse_latency(f"trace:{profile}", perf_factor=2.0)
    assert model.expected_runtime() is None  # shrinking-tail learns the mean, as the traced run did
    model.reset(0)
    assert [model.runtime(None) for _ in range(4)] == [0.05, 0.1, 0.15, 0.05]  # wraps around
    model.reset(1)
    assert model.runtime(None) == 0.05


def test_log_occupancy_by_hand():
    import numpy as np

    from streaming.latency import log_occupancy

    # 10 FPS. Call 0 on frame 0 [0, 0.15]: frame 1 (0.1) had arrived, the runner went on at 0.16.
    # Call 1 on frame 1 [0.16, 0.18]: frame 2 arrives at 0.2 after it, the runner waited.
    # Call 2 on frame 2 [0.205, 0.29]: frame 3 (0.3) not there yet, but the runner took frame 4 at
    # 0.41, passing over frame 3: it looked only then, so call 2 lasted until 0.41.
    t_start = np.array([0.0, 0.16, 0.205, 0.41])
    t_done = np.array([0.15, 0.18, 0.29, 0.45])
    occupancy = log_occupancy(t_start, t_done, np.array([0, 1, 2, 4]), 10.0)
    assert np.allclose(occupancy, [0.16, 0.02, 0.41 - 0.2, 0.04])
