"""OpenVINO compute precision: f32, bf16 or INT8 by NNCF post-training quantization.

    python -m detector.export --model m.pth --format openvino --precision int8 --calibration clip.mp4 --output m.xml

The precision is a property of the exported IR, written into its rt_info ("precision": fp32, bf16
or int8) and honoured when it is compiled (detector.backends.openvino_backend):

- fp32: `INFERENCE_PRECISION_HINT=f32`, the reference.
- bf16: the same f32 weights, compiled with `INFERENCE_PRECISION_HINT=bf16` (CPUs with AVX512-BF16
  or AMX; elsewhere the plugin runs f32). What OpenVINO does by default on such CPUs.
- int8: FakeQuantize nodes inserted by `nncf.quantize` from activation ranges seen on calibration
  frames (NNCF's PERFORMANCE preset, the head's output convolutions left in float);
  the layers left in float run at bf16 where the CPU has it.

Calibration frames come from the user's own footage (a folder of images, searched recursively,
or a video) or from the synthetic driving world rendered in memory ("synthetic"). They are
letterboxed exactly as at inference (detector.preprocess). The default precision
(DEFAULT_OPENVINO_PRECISION) is the fastest one whose offline AP stays within 0.5 AP of f32 on
frames held out from calibration: measured with benchmarks/precision.py (README, "CPU precision").
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from detector.backends.base import import_optional

OPENVINO_PRECISIONS = ("fp32", "bf16", "int8")
PRECISION_ALIASES = {"f32": "fp32", "fp32": "fp32", "bf16": "bf16", "int8": "int8", "i8": "int8"}
# Measured (README "CPU precision", benchmarks/precision.py): with the demo model, calibrated on 128
# synthetic frames, INT8 scored 20.0 AP against f32's 20.4 on 160 held-out frames (bf16: 20.4) and
# ran 1.7x faster than f32 (bf16 1.25x): the fastest within 0.5 AP.
DEFAULT_OPENVINO_PRECISION = "int8"
SYNTHETIC = "synthetic"
DEFAULT_CALIBRATION_FRAMES = 128
# Inference precision hint per stored precision; "int8" leaves the float parts to bf16 (f32 on CPUs
# without it) like the plugin's own default.
COMPILE_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "bf16"}


def normalise_precision(value: str, *, what: str = "--precision") -> str:
    key = str(value).lower()
    if key not in PRECISION_ALIASES:
        raise ValueError(f"{what}: {value!r} is not an OpenVINO precision ({', '.join(('f32', 'bf16', 'int8'))})")
    return PRECISION_ALIASES[key]


def import_nncf():  # noqa: ANN201 - the module type only exists when installed
    return import_optional("nncf", "INT8 quantization needs NNCF: pip install 'yolox-streaming[openvino]'")


def synthetic_frames(count: int, *, size_wh: tuple[int, int] = (960, 600), seed: int = 12345,
                     sequences: int = 4) -> list[np.ndarray]:
    """`count` frames of the synthetic driving world, rendered in memory (several sequences, spread
    in time). The default seed differs from the worlds the demo model trains and streams on."""
    from data.synthetic.render import FPS, SequenceRenderer

    if count < 1:
        raise ValueError(f"need at least one calibration frame, got {count}")
    per_seq = -(-count // sequences)
    step = 5  # frames apart within a sequence: consecutive frames are near duplicates
    frames: list[np.ndarray] = []
    for s in range(sequences):
        renderer = SequenceRenderer(np.random.default_rng([seed, s]), size_wh, per_seq * step / FPS,
                                    track_base=(s + 1) * 1_000_000)
        for k in range(per_seq):
            if len(frames) == count:
                return frames
            if k:
                for _ in range(step):
                    renderer.advance()
            frames.append(renderer.render()[0])
    return frames


def _evenly(items: list[Any], count: int) -> list[Any]:
    if len(items) <= count:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


SYNTHETIC_SIZE_WH = (960, 600)


def cached_synthetic_frames(count: int, *, input_hw: tuple[int, int] | None, cache: Path | None) -> list[np.ndarray]:
    """synthetic_frames at the world's 960x600, kept in `cache` (rendering is the slow part of an
    INT8 build) already shrunk as the letterbox for `input_hw` shrinks them, which makes the stored
    frames small and letterboxing them again exact. Rendering at the small size directly instead
    lost 0.4 AP more after INT8 (no anti-aliasing by the downscale)."""
    import cv2

    from detector.preprocess import letterbox_ratio

    frames = None
    w, h = SYNTHETIC_SIZE_WH
    r = min(1.0, letterbox_ratio((h, w), input_hw)) if input_hw is not None else 1.0
    small_wh = (max(int(w * r), 1), max(int(h * r), 1))
    path = Path(cache) / f"synthetic-{count}-{small_wh[0]}x{small_wh[1]}.npz" if cache is not None else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                return list(data["frames"])
        except (OSError, ValueError, KeyError):
            pass  # damaged: render again
    frames = synthetic_frames(count, size_wh=SYNTHETIC_SIZE_WH)
    if small_wh != (w, h):
        frames = [cv2.resize(f, small_wh, interpolation=cv2.INTER_LINEAR) for f in frames]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.stem}.{os.getpid()}.npz")
        np.savez_compressed(scratch, frames=np.stack(frames))
        os.replace(scratch, path)
    return frames


def load_calibration_frames(source: str | Path, *, count: int = DEFAULT_CALIBRATION_FRAMES,
                            input_hw: tuple[int, int] | None = None, cache: Path | None = None) -> list[np.ndarray]:
    """BGR frames for calibration: "synthetic" (rendered in memory; kept in `cache` when given), a folder of images (recursive) or a video file, sampled evenly over the whole source."""
    import cv2

    from data.video import IMAGE_SUFFIXES, VideoSource

    if str(source) == SYNTHETIC:
        return cached_synthetic_frames(count, input_hw=input_hw, cache=cache)
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        frames = [f for f in (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in _evenly(files, count)) if f is not None]
        if not frames:
            raise ValueError(f"{path}: no readable images ({' '.join(IMAGE_SUFFIXES)}) for calibration")
        return frames
    if not path.is_file():
        raise FileNotFoundError(f"{path}: calibration source not found (a folder of images, a video or 'synthetic')")
    video = VideoSource(path)
    total = video.frame_count or 0
    wanted = set(np.linspace(0, total - 1, count).round().astype(int).tolist()) if total > count else None
    frames = [frame for i, (_, frame) in enumerate(video) if wanted is None or i in wanted]
    if not frames:
        raise ValueError(f"{path}: no decodable frames for calibration")
    return _evenly(frames, count)


def calibration_batches(frames: list[np.ndarray], input_hw: tuple[int, int], *, legacy: bool = False
                        ) -> Iterator[np.ndarray]:
    """Network inputs [1, 3, H, W], letterboxed as the detector does."""
    from detector.preprocess import preprocess_batch

    for frame in frames:
        yield preprocess_batch([frame], input_hw, legacy=legacy)[0]


def head_output_convs(model: Any) -> list[str]:
    """Names of the head's last convolutions (box, objectness and class logits): the ones whose
    output, after the bias, goes straight into a Sigmoid or the output Concat."""
    names = []
    for node in model.get_ops():
        if node.get_type_name() != "Convolution":
            continue
        after = [t.get_node() for t in node.output(0).get_target_inputs()]
        after = [n for a in after for n in ([t.get_node() for t in a.output(0).get_target_inputs()]
                                            if a.get_type_name() == "Add" else [a])]
        if any(n.get_type_name() in ("Sigmoid", "Concat") for n in after):
            names.append(node.get_friendly_name())
    return names


def quantize_int8(model: Any, frames: list[np.ndarray], *, input_hw: tuple[int, int], legacy: bool = False) -> Any:
    """An openvino.Model -> the same with INT8 FakeQuantize nodes (nncf.quantize).

    The head's output convolutions stay in float: their logits set every score and box, and
    quantizing them cost most of the AP lost (0.7 -> 0.4 AP on the demo model, README). The rest
    uses NNCF's PERFORMANCE preset (symmetric), which measured as accurate as MIXED and faster.
    """
    nncf = import_nncf()
    import logging

    if not frames:
        raise ValueError("INT8 quantization needs calibration frames, got none")
    batches = list(calibration_batches(frames, input_hw, legacy=legacy))
    logger = logging.getLogger("nncf")  # one INFO line per node otherwise; restored after
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return nncf.quantize(model, nncf.Dataset(batches), preset=nncf.QuantizationPreset.PERFORMANCE,
                             subset_size=len(batches), ignored_scope=nncf.IgnoredScope(names=head_output_convs(model)))
    finally:
        logger.setLevel(level)
