"""Configuration of a latency-budget ablation (`python -m eval_streaming.ablate`) and its grid.

The grid has two levels, because they cost very differently:
    passes  models x input sizes x backends: one every-frame pass each over the dataset (the
            detector runs on every frame; expensive, cached on disk by content hash);
    points  latencies x policies x forecasts x perf factors: simulated from a pass's detections
            and runtimes and scored (cheap, also cached).
A backend entry is "BACKEND" or "BACKEND:PRECISION" (precision is OpenVINO's: f32, bf16, int8).
The latency "profile" (no file) means each pass's own measured runtime profile, sampled with
the seed, as `streaming.run --latency profile:FILE` does; the planner simulates with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from data.config import ConfigError
from detector.grid import check_input_hw
from eval_streaming.sweep import SweepPoint
from streaming.config import SyntheticWorldConfig
from streaming.latency import LatencySpecError, parse_latency
from streaming.scheduler import POLICIES, TIMING_MODES, check_eta
from trackers import FORECAST_METHODS

BACKENDS = ("torch", "onnx", "openvino", "tensorrt", "auto")
PRECISIONS = ("f32", "bf16", "int8")
EXECUTORS = ("local", "ray")
OWN_PROFILE = "profile"  # latency spec: the pass's own runtime profile


@dataclass
class AblationWorldConfig:
    """The synthetic world an ablation generates when no dataset is given (streaming.config's
    SyntheticWorldConfig, smaller, and by default inside the cache folder)."""

    directory: str = ""  # "" = CACHE/world
    sequences: int = 2
    frames: int = 30
    size: tuple[int, int] = (640, 384)  # size_wh: (W, H) pixels
    seed: int = 7  # held out from the bundled demo model's training world (seed 0)

    def resolve(self, cache: str) -> SyntheticWorldConfig:
        return SyntheticWorldConfig(directory=self.directory or str(Path(cache) / "world"), sequences=self.sequences,
                                    frames=self.frames, size=self.size, seed=self.seed)


@dataclass
class AblationConfig:
    # passes
    models: list[str] = field(default_factory=lambda: [""])  # checkpoint / ONNX / .xml files or zoo names; "" = demo
    input_sizes: list[Optional[tuple[int, int]]] = field(default_factory=lambda: [None])  # (H, W); null = model's own
    backends: list[str] = field(default_factory=lambda: ["torch"])  # BACKEND or BACKEND:PRECISION
    device: str = "cpu"
    conf_thresh: float = 0.01
    nms_thresh: float = 0.65
    # points
    latencies: list[str] = field(default_factory=lambda: ["measured", "fixed:0.033", "fixed:0.066"])
    policies: list[str] = field(default_factory=lambda: ["greedy"])
    forecasts: list[str] = field(default_factory=lambda: ["none", "kalman"])
    perf_factors: list[float] = field(default_factory=lambda: [1.0])
    eta: float = 0.0
    seed: int = 0
    timing: str = "exact"
    # data: "" or "synthetic" = a small world generated into CACHE/world (unless synthetic.directory says where)
    data: str = ""
    annotations: str = ""
    split: str = "val"
    fps: float = 30.0
    max_sequences: int = 0  # 0 = all
    max_frames: int = 0  # per sequence, 0 = all
    synthetic: AblationWorldConfig = field(default_factory=AblationWorldConfig)
    # execution
    shard_sequences: int = 1  # sequences per pass task (the unit that is cached and retried)
    cache: str = "runs/ablation_cache"
    out: str = "runs/ablation"
    executor: str = "local"
    address: str = ""  # Ray: "" = start a local Ray; "auto" = the running cluster
    workers: int = 0  # 0 = one per core
    max_retries: int = 2  # per task, on a worker that dies or a task that raises

    def __post_init__(self) -> None:
        for name in ("models", "input_sizes", "backends", "latencies", "policies", "forecasts", "perf_factors"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name}: needs at least one entry")
            if len(set(map(str, values))) != len(values):
                raise ConfigError(f"{name}: has duplicate entries {values}")
        for size in self.input_sizes:
            if size is not None:
                try:
                    check_input_hw(size)
                except ValueError as e:
                    raise ConfigError(f"input_sizes: {e}") from None
        for entry in self.backends:
            backend, _, precision = entry.partition(":")
            if backend not in BACKENDS:
                raise ConfigError(f"backends: {entry!r}: {backend!r} is not one of {', '.join(BACKENDS)}")
            if precision and precision not in PRECISIONS:
                raise ConfigError(f"backends: {entry!r}: precision {precision!r} is not one of {', '.join(PRECISIONS)}")
            if precision and backend != "openvino":
                raise ConfigError(f"backends: {entry!r}: a precision is for the openvino backend only")
        for spec in self.latencies:
            if spec == OWN_PROFILE:
                continue
            try:
                parse_latency(spec)
            except (LatencySpecError, FileNotFoundError) as e:
                raise ConfigError(f"latencies: {e}") from None
        for policy in self.policies:
            if policy not in POLICIES:
                raise ConfigError(f"policies: {policy!r} is not one of {', '.join(POLICIES)}")
        for method in self.forecasts:
            if method not in FORECAST_METHODS:
                raise ConfigError(f"forecasts: {method!r} is not one of {', '.join(FORECAST_METHODS)}")
        for factor in self.perf_factors:
            if not factor > 0:
                raise ConfigError(f"perf_factors: must be positive, got {factor}")
        try:
            check_eta(self.eta)
        except ValueError as e:
            raise ConfigError(f"eta: {e}") from None
        if self.timing not in TIMING_MODES:
            raise ConfigError(f"timing: {self.timing!r} is not one of {', '.join(TIMING_MODES)}")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor: {self.executor!r} is not one of {', '.join(EXECUTORS)}")
        if self.address and self.executor != "ray":
            raise ConfigError(f"address: {self.address!r} is for executor ray (got executor {self.executor!r})")
        if self.workers < 0 or self.max_retries < 0 or self.max_sequences < 0 or self.max_frames < 0:
            raise ConfigError("workers, max_retries, max_sequences and max_frames must be >= 0")
        if self.shard_sequences < 1:
            raise ConfigError(f"shard_sequences: must be >= 1, got {self.shard_sequences}")
        if not self.fps > 0:
            raise ConfigError(f"fps: must be positive, got {self.fps}")


@dataclass(frozen=True)
class PassSpec:
    """One every-frame pass's detector: what it loads and how."""

    model: str  # as given in the config ("" = the bundled demo model)
    input_size: tuple[int, int] | None
    backend: str
    precision: str  # "" = the backend's default

    @property
    def label(self) -> str:
        size = "x".join(map(str, self.input_size)) if self.input_size else "own"
        return f"{self.model or 'demo'} @ {size} / {self.backend}{':' + self.precision if self.precision else ''}"


def pass_specs(cfg: AblationConfig) -> list[PassSpec]:
    specs = []
    for model in cfg.models:
        for size in cfg.input_sizes:
            for entry in cfg.backends:
                backend, _, precision = entry.partition(":")
                specs.append(PassSpec(model, tuple(size) if size is not None else None, backend, precision))
    return specs


def sweep_points(cfg: AblationConfig) -> list[SweepPoint]:
    return [SweepPoint(latency, policy, forecast, float(factor)) for latency in cfg.latencies
            for policy in cfg.policies for forecast in cfg.forecasts for factor in cfg.perf_factors]
