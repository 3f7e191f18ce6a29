"""Streaming a video or an image folder (`streaming.run --data VIDEO`): the run's settings for footage.

Footage has its own frame rate and its own content. `prepare_footage` opens it (data.video_dataset:
frame times from the file, variable rates resampled at the median interval, or constant with
--fps), sets the run's fps to the footage's and picks the model when none was given:

    the official COCO-trained YOLOX-S (detector.zoo; its 80 classes mapped to the driving
    classes) when its weights are in the local cache: real footage needs a model that has seen
    real streets;
    otherwise the bundled demo model, with a warning (stderr and report): it was trained on the
    synthetic world only, so its boxes on real footage mean little.
Nothing is downloaded here: a run must not depend on the network; `--model yolox_s` fetches.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from data.video_dataset import FootageDataset, is_footage, open_footage
from streaming.config import StreamingConfig

FOOTAGE_MODEL = "yolox_s"  # zoo name: COCO-trained, fast enough to stream on a CPU at small sizes

DEMO_ON_FOOTAGE = (
    "the bundled demo model was trained on the synthetic world only; on real footage its boxes mean "
    "little. Put the official {name} weights at {path} (or pass --model FILE) for a COCO-trained model."
)


@dataclass
class PreparedFootage:
    cfg: StreamingConfig  # fps and model resolved for the footage
    dataset: FootageDataset
    warnings: list[str] = field(default_factory=list)


def uses_footage(cfg: StreamingConfig) -> bool:
    """A run on footage: --data names a video or an image folder, and no annotation file is given."""
    return bool(cfg.data) and cfg.data != "synthetic" and not cfg.annotations and is_footage(cfg.data)


def cached_zoo_weights(name: str = FOOTAGE_MODEL) -> Path | None:
    """The zoo model's weights when they are in the local cache (never downloads)."""
    from detector.zoo import WeightsUnavailable, resolve_weights

    try:
        return resolve_weights(name, download=False)
    except WeightsUnavailable:
        return None


def default_footage_model() -> tuple[str, list[str]]:
    """(model for cfg.model, warnings): the cached COCO YOLOX-S, else "" (the demo) and why."""
    if cached_zoo_weights() is not None:
        return FOOTAGE_MODEL, []
    from detector.zoo import cache_dir, get_spec

    target = cache_dir() / Path(get_spec(FOOTAGE_MODEL).url or f"{FOOTAGE_MODEL}.pth").name
    return "", [DEMO_ON_FOOTAGE.format(name=FOOTAGE_MODEL, path=target)]


def prepare_footage(cfg: StreamingConfig) -> PreparedFootage:
    """Open the footage and resolve the run's fps and model for it (see the module docstring)."""
    dataset = open_footage(cfg.data, fps=None if cfg.fps_from_footage else cfg.fps, max_frames=cfg.max_frames)
    model, warnings = (cfg.model, []) if cfg.model else default_footage_model()
    return PreparedFootage(replace(cfg, fps=dataset.fps, model=model), dataset, warnings)
