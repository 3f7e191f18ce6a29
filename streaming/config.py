"""Configuration of a streaming run (`python -m streaming.run`), loaded from YAML + overrides."""
from __future__ import annotations

from dataclasses import dataclass, field

from data.config import ConfigError
from detector.grid import check_input_hw
from detector.postprocess import EVAL_CONF_THRESH, EVAL_NMS_THRESH
from streaming.scheduler import POLICIES, TIMING_MODES, check_eta
from trackers import ForecastConfig


def _no_forecast() -> ForecastConfig:
    return ForecastConfig(method="none")


@dataclass
class SyntheticWorldConfig:
    """The small world generated on first use when no dataset is given.

    `size` is (width, height) in pixels, image order as `generate_world(size=...)` takes it;
    unlike `StreamingConfig.input_size`, which is the network's (H, W). The YAML key stays
    `size` so existing configs keep working.
    """

    directory: str = "datasets/synthetic_stream_demo"
    sequences: int = 2
    frames: int = 60
    size: tuple[int, int] = (960, 600)  # size_wh: (W, H) pixels
    # Not 0: the bundled demo model was trained on the seed-0 world, so the demo scores held-out
    # sequences.
    seed: int = 7


@dataclass
class StreamingConfig:
    model: str = ""  # checkpoint / ONNX / OpenVINO / engine file or zoo name; "" = bundled demo model
    data: str = ""  # Argoverse-HD image root; "" or "synthetic" = the generated demo world
    annotations: str = ""  # default: DATA/annotations/SPLIT.json (test-meta.json for split test)
    split: str = "val"
    fps: float = 30.0
    # Footage (--data VIDEO or an image folder without annotations): frame times from the file
    # (data.video_dataset); False: constant `fps` (what --fps asks for).
    fps_from_footage: bool = True
    latency: str = "measured"  # measured | fixed:SECONDS | profile:FILE | trace:FILE (streaming.latency)
    policy: str = "greedy"  # greedy | shrinking-tail
    perf_factor: float = 1.0  # simulated hardware speed-up: runtimes are divided by it
    input_size: tuple[int, int] | None = None  # input_hw: (H, W) of the network; None = the model's own
    forecast: ForecastConfig = field(default_factory=_no_forecast)  # method: one of trackers.FORECAST_METHODS (checked there)
    # The sAP toolkit's --eta: ground-truth frame j is scored with the output available at
    # (j - eta) / fps, so eta = -1 asks for one frame *later* (eta >= -1).
    eta: float = 0.0
    timing: str = "exact"  # exact | toolkit (the sAP toolkit's float arithmetic; streaming.scheduler)
    max_det: int = 100  # detections kept per frame, as the challenge server does
    out: str = "runs/streaming"
    submission: str = ""  # also write paired results as a COCO results list here
    seed: int = 0
    device: str = "cpu"
    # auto: a checkpoint on a CPU runs through OpenVINO (exported once, cached; detector.ov_cache);
    # torch | onnx | openvino | tensorrt insist on one (detector.api.choose_backend).
    backend: str = "auto"
    precision: str = ""  # OpenVINO f32 | bf16 | int8; "" = detector.quantize.DEFAULT_OPENVINO_PRECISION
    # Intra-op threads per inference; 0 = detector.backends.base.default_threads (1 on <= 2 cores,
    # where a second thread competes with decoding and the runner).
    threads: int = 0
    conf_thresh: float = EVAL_CONF_THRESH  # low, as for AP evaluation
    nms_thresh: float = EVAL_NMS_THRESH
    # Also run every frame once: gives offline AP, and the simulation then replays detections
    # (and, for measured latency, each frame's measured runtime) from that pass.
    offline: bool = True
    realtime: bool = False  # drive the scheduler by the wall clock instead of simulating
    max_sequences: int = 0  # 0 = all
    max_frames: int = 0  # per sequence, 0 = all
    plot: bool = True
    video: bool = False  # one MP4 per sequence in videos/: each frame with the prediction it is scored with
    video_max_sequences: int = 0  # 0 = every streamed sequence
    synthetic: SyntheticWorldConfig = field(default_factory=SyntheticWorldConfig)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(f"policy: {self.policy!r} is not one of {', '.join(POLICIES)}")
        if not self.fps > 0:
            raise ConfigError(f"fps: must be positive, got {self.fps}")
        try:
            check_eta(self.eta)
        except ValueError as e:
            raise ConfigError(f"eta: {e}") from None
        if self.timing not in TIMING_MODES:
            raise ConfigError(f"timing: {self.timing!r} is not one of {', '.join(TIMING_MODES)}")
        if self.max_det < 1:
            raise ConfigError(f"max_det: must be >= 1, got {self.max_det}")
        if not self.perf_factor > 0:
            raise ConfigError(f"perf_factor: must be positive, got {self.perf_factor}")
        if self.input_size is not None:
            try:
                check_input_hw(self.input_size)
            except ValueError as e:
                raise ConfigError(str(e)) from None
        if self.realtime and (self.latency != "measured" or self.perf_factor != 1.0):
            raise ConfigError("realtime runs at the speed of this machine: use latency 'measured', perf_factor 1")
        if self.backend not in ("auto", "torch", "onnx", "openvino", "tensorrt"):
            raise ConfigError(f"backend: {self.backend!r} is not one of auto, torch, onnx, openvino, tensorrt")
        if self.precision not in ("", "f32", "fp32", "bf16", "int8"):
            raise ConfigError(f"precision: {self.precision!r} is not one of f32, bf16, int8")
        if self.threads < 0:
            raise ConfigError(f"threads: must be >= 0 (0 = automatic), got {self.threads}")
        if self.max_sequences < 0 or self.max_frames < 0 or self.video_max_sequences < 0:
            raise ConfigError("max_sequences, max_frames and video_max_sequences must be >= 0")
