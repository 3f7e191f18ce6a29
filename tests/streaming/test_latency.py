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
