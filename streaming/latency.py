"""Latency models: how long the detector takes for one frame, in seconds.

Spec strings (CLI `--latency`):
    measured        wall clock of the real backend call
    fixed:SECONDS   the same runtime for every frame
    profile:FILE    runtimes drawn from an empirical profile (JSON list, JSON object with a
                    "runtimes" list such as runtime_profile.json, or whitespace-separated text)
    trace:FILE      a run's runtimes replayed in order, call k taking the k-th: FILE is a stream
                    log (each call's occupancy, see `log_occupancy`) or a profile file as above
                    (its runtimes as listed). Replaying a live recording with its own log as the
                    trace re-runs the live session's timeline.
Every model divides its runtime by `perf_factor` (1.2 = hardware 20% faster).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class LatencySpecError(ValueError):
    pass


class LatencyModel:
    """Base: `runtime(measured)` returns the simulated runtime of one frame in seconds."""

    spec: str = ""
    needs_measurement: bool = False

    def reset(self, key: int) -> None:
        """Start a sequence; `key` (the sequence id) keeps sampling independent of run order."""

    def runtime(self, measured: float | None) -> float:
        raise NotImplementedError

    def expected_runtime(self) -> float | None:
        """Mean runtime in seconds when known up front (shrinking-tail uses it, as the sAP
        toolkit uses its runtime distribution's mean); None: learn it from the runs."""
        return None


@dataclass
class MeasuredLatency(LatencyModel):
    perf_factor: float = 1.0
    spec: str = "measured"
    needs_measurement: bool = True

    def runtime(self, measured: float | None) -> float:
        if measured is None:
            raise LatencySpecError("latency 'measured' needs a timed detector call, got no measurement")
        return float(measured) / self.perf_factor


@dataclass
class FixedLatency(LatencyModel):
    seconds: float = 0.0
    perf_factor: float = 1.0
    spec: str = "fixed:0"

    def runtime(self, measured: float | None) -> float:
        return self.seconds / self.perf_factor

    def expected_runtime(self) -> float | None:
        return self.seconds / self.perf_factor


@dataclass
class ProfileLatency(LatencyModel):
    runtimes: np.ndarray = field(default_factory=lambda: np.zeros(1))
    seed: int = 0
    perf_factor: float = 1.0
    spec: str = "profile:"
    _rng: np.random.Generator | None = None

    def reset(self, key: int) -> None:
        self._rng = np.random.default_rng([int(self.seed), int(key)])

    def runtime(self, measured: float | None) -> float:
        if self._rng is None:
            self.reset(0)
        return float(self.runtimes[self._rng.integers(len(self.runtimes))]) / self.perf_factor

    def expected_runtime(self) -> float | None:
        return float(np.mean(self.runtimes)) / self.perf_factor


@dataclass
class TraceLatency(LatencyModel):
    """Runtimes in the order they were measured; each sequence starts at the first. A stream
    longer than the trace starts it over (a replay with a slower model may run more calls).

    No expected runtime up front: the run being replayed learnt shrinking-tail's mean from its
    own runs (the wall-clock runner knows no distribution), and so does its replay."""

    runtimes: np.ndarray = field(default_factory=lambda: np.zeros(1))
    perf_factor: float = 1.0
    spec: str = "trace:"
    _next: int = 0

    def reset(self, key: int) -> None:
        self._next = 0

    def runtime(self, measured: float | None) -> float:
        value = float(self.runtimes[self._next % len(self.runtimes)])
        self._next += 1
        return value / self.perf_factor


def log_occupancy(t_start: np.ndarray, t_done: np.ndarray, frame_index: np.ndarray, fps: float) -> np.ndarray:
    """How long each call of a logged run kept the detector from the next one, as the simulator
    must replay it to take the same frames.

    A wall-clock run pays more than the detector's runtime between two calls: receiving,
    decoding, the loop itself (milliseconds, more when a recorder shares the CPU). Replaying
    bare runtimes lets the simulated clock run ahead of the live one by that much per call, and
    after a few calls it takes other frames. So call k lasts until the live runner took its
    next frame, at the next call's start, when it went on without waiting: the next frame had
    arrived before call k finished, or the runner passed over an arrived frame (it only looked
    once a newer one was there). Otherwise it lasts until call k's own finish: the runner then
    waited for the next frame, which the simulator does by itself. Times are measured from where
    the simulator starts call k: the later of the previous call's end and its frame's arrival
    (index / fps). A live log of a greedy run is reproduced; shrinking-tail's deliberate waits
    count as occupancy."""
    arrival = frame_index / fps
    ends = t_done.copy()
    went_on = (arrival[1:] <= t_done[:-1]) | (frame_index[1:] - 1 > frame_index[:-1])
    ends[:-1][went_on] = t_start[1:][went_on]
    occupancy = np.empty_like(ends)
    free = -np.inf
    for k in range(len(ends)):
        start = max(free, arrival[k])
        occupancy[k] = max(ends[k] - start, 0.0)
        free = start + occupancy[k]
    return occupancy


def load_trace(path: str | Path) -> np.ndarray:
    """Occupancies of a stream log's calls in order (log_occupancy), or a profile file's runtimes."""
    from streaming.log import SCHEMA, read_log

    path = Path(path)
    if path.is_file() and path.suffix == ".jsonl":
        with path.open("r", encoding="utf-8") as f:
            first = f.readline()
        if SCHEMA in first:
            log = read_log(path)
            if not log.outputs:
                raise LatencySpecError(f"{path}: stream log has no outputs, so no runtimes to replay")
            column = lambda key: np.asarray([getattr(o, key) for o in log.outputs], np.float64)  # noqa: E731
            return log_occupancy(column("t_start"), column("t_done"), column("frame_index"), log.fps)
    return load_profile(path)


def load_profile(path: str | Path) -> np.ndarray:
    """Read runtimes (seconds) from a profile file; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: runtime profile not found")
    text = path.read_text()
    values: list
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            values = [float(tok) for tok in text.replace(",", " ").split()]
        except ValueError as e:
            raise LatencySpecError(f"{path}: runtime profile is neither JSON nor a list of numbers ({e})") from None
    else:
        if isinstance(data, dict):
            if "runtimes" not in data:
                raise LatencySpecError(f"{path}: runtime profile object has no 'runtimes' list")
            data = data["runtimes"]
        if not isinstance(data, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in data
        ):
            raise LatencySpecError(f"{path}: runtime profile must be a list of numbers (seconds)")
        values = data
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise LatencySpecError(f"{path}: runtime profile is empty")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise LatencySpecError(f"{path}: runtime profile has negative or non-finite runtimes")
    return arr


def parse_latency(spec: str, *, perf_factor: float = 1.0, seed: int = 0) -> LatencyModel:
    """Build a latency model from its spec string (see module docstring)."""
    if not (isinstance(perf_factor, (int, float)) and math.isfinite(perf_factor) and perf_factor > 0):
        raise LatencySpecError(f"perf_factor must be a positive number, got {perf_factor!r}")
    perf_factor = float(perf_factor)
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "measured" and not arg:
        return MeasuredLatency(perf_factor=perf_factor, spec="measured")
    if kind == "fixed":
        try:
            seconds = float(arg)
        except ValueError:
            raise LatencySpecError(f"latency {spec!r}: expected fixed:SECONDS (a number)") from None
        if not (math.isfinite(seconds) and seconds >= 0):
            raise LatencySpecError(f"latency {spec!r}: runtime must be a finite number >= 0")
        return FixedLatency(seconds=seconds, perf_factor=perf_factor, spec=spec)
    if kind == "profile" and arg:
        return ProfileLatency(runtimes=load_profile(arg), seed=seed, perf_factor=perf_factor, spec=spec)
    if kind == "trace" and arg:
        return TraceLatency(runtimes=load_trace(arg), perf_factor=perf_factor, spec=spec)
    raise LatencySpecError(f"unknown latency spec {spec!r}: use measured, fixed:SECONDS, profile:FILE or trace:FILE")
