"""Latency models: how long the detector takes for one frame, in seconds.

Spec strings (CLI `--latency`):
    measured        wall clock of the real backend call
    fixed:SECONDS   the same runtime for every frame
    profile:FILE    runtimes drawn from an empirical profile (JSON list, JSON object with a
                    "runtimes" list such as runtime_profile.json, or whitespace-separated text)
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
    raise LatencySpecError(f"unknown latency spec {spec!r}: use measured, fixed:SECONDS or profile:FILE")
