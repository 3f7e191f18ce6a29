"""Train StreamYOLO: `python -m detector.stream_train --config configs/train_streamyolo_s.yaml
[--set key=value ...] [--resume runs/NAME/latest_ckpt.pth] [--out runs/NAME]`.

The YOLOX trainer (detector.trainer: SGD, warm-cosine schedule, EMA, bf16 on CPU, checkpoints,
resume) with StreamYOLO's data, model and loss: samples of (current, previous frame) -> the next
frame's boxes from an Argoverse-HD-layout dataset (detector.stream_data), the Trend-Aware Loss
weights in the targets' sixth column (detector.tal, detector.losses), and weights initialised
from a trained YOLOX of the same size (`init_weights`; the DFP convs start fresh). No validation
during training: a next-frame detector is scored where it is used, by streaming.run at one frame
of latency (`--latency fixed:0.033`), so best_weights.pth is the last epoch's EMA model.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from data.argoverse import ArgoverseHD
from data.cli import run_command
from data.config import ConfigError
from detector.backends.base import ModelMetadata
from detector.stream_data import StreamPairDataset
from detector.streamyolo import FORECAST_FRAMES, STREAMYOLO_MODELS, build_streamyolo
from detector.tal import TrendConfig
from detector.train_config import TrainConfig
from detector.train_data import AugmentConfig
from detector.trainer import Trainer


def _official_aug() -> AugmentConfig:
    # The official one-x recipe: no mosaic, mixup or HSV; flips only.
    return AugmentConfig(mosaic_prob=0.0, mixup_prob=0.0, hsv_prob=0.0, flip_prob=0.5, enable_mixup=False)


@dataclass
class StreamTrainConfig(TrainConfig):
    """TrainConfig with the official StreamYOLO-S schedule as defaults (cfgs/s_s50_onex_dfp_tal_flip):
    15 epochs, 1 warmup epoch, all 15 without augmentation (so L1 on and the flat minimum lr after
    warmup), 0.001 / 64 lr per image, widths 800-1120 (random_size (50, 70) x 16: 960 +- 5 x 32).
    `train_ann` / `train_images`: an Argoverse-HD annotation
    file and the folder its seq_dirs are relative to."""

    model: str = "streamyolo_s"
    input_size: tuple[int, int] = (608, 960)
    multiscale_range: int = 5
    aug: AugmentConfig = field(default_factory=_official_aug)
    epochs: int = 15
    lr_per_image: float = 0.001 / 64
    warmup_epochs: int = 1
    no_aug_epochs: int = 15
    cache_images: bool = False
    # Trend-Aware Loss (detector.tal): gamma 1.0, ignore below IoU 0.5 with 1.5 (1.6 for L).
    tal_gamma: float = 1.0
    tal_ignore_thr: float = 0.5
    tal_ignore_value: float = 1.5
    # Train only the DFP convs and the head; the single-frame detector (backbone + PAFPN) keeps the
    # init_weights YOLOX's weights. Not the official recipe (which trains everything): a CPU budget
    # option that keeps the detector's accuracy and skips the backbone's backward pass.
    freeze_pan: bool = False
    # Freeze only the CSPDarknet (`backbone.backbone`): the PAFPN, DFP and head train. The PAFPN can
    # then learn features that carry motion (the official recipe trains it too) while the costliest
    # backward pass is still skipped. Implied by freeze_pan.
    freeze_backbone: bool = False
    # Start the DFP convs' BatchNorm scales at zero, so a fresh StreamYOLO initialised from a YOLOX
    # begins as exactly that detector (fused features = current features) instead of one whose
    # head sees features perturbed by random 1x1 convs. Not official (which uses the default init).
    dfp_zero_init: bool = False
    run_name: str = "streamyolo"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.model != "custom" and self.model not in STREAMYOLO_MODELS:
            raise ConfigError(f"model: {self.model!r} is neither 'custom' nor one of {', '.join(STREAMYOLO_MODELS)}")
        try:
            self.trend
        except ValueError as e:
            raise ConfigError(str(e)) from None

    @property
    def trend(self) -> TrendConfig:
        return TrendConfig(gamma=self.tal_gamma, ignore_thr=self.tal_ignore_thr, ignore_value=self.tal_ignore_value)


class StreamTrainer(Trainer):
    cfg: StreamTrainConfig

    def _build_data(self) -> tuple[Any, tuple[str, ...], None]:
        cfg = self.cfg
        if cfg.val_ann:
            print("val_ann is not used: StreamYOLO is scored by streaming.run (see detector.stream_train)",
                  file=sys.stderr)
        frames = ArgoverseHD(cfg.train_ann, cfg.train_images, check_images=True)
        data = StreamPairDataset(frames, cfg.input_size, flip_prob=cfg.aug.flip_prob, trend=cfg.trend, seed=cfg.seed,
                                 max_labels=cfg.aug.max_labels, cache=cfg.cache_images, crop_hw=cfg.aug.crop_size,
                                 crop_scale=cfg.aug.crop_scale)
        return data, data.classes, None

    def _build_model(self, num_classes: int) -> torch.nn.Module:
        cfg = self.cfg
        if cfg.model == "custom":
            model = build_streamyolo(depth=cfg.depth, width=cfg.width, num_classes=num_classes,
                                     depthwise=cfg.depthwise, act=cfg.act)
        else:
            model = build_streamyolo(cfg.model, num_classes=num_classes)
        if cfg.dfp_zero_init:
            # init_weights, loaded after this, overrides it when they carry trained DFP convs.
            for jian in (model.backbone.jian0, model.backbone.jian1, model.backbone.jian2):
                last_bn = [m for m in jian.modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]  # DWConv: pconv's
                torch.nn.init.zeros_(last_bn.weight)
                torch.nn.init.zeros_(last_bn.bias)
        return model

    def _frozen_modules(self, model: torch.nn.Module) -> list[torch.nn.Module]:
        cfg = self.cfg
        if cfg.freeze_pan:
            option = "freeze_pan"
            frozen = [m for name, m in model.backbone.named_children() if not name.startswith("jian")]
        elif cfg.freeze_backbone:
            option, frozen = "freeze_backbone", [model.backbone.backbone]
        else:
            return []
        if not cfg.init_weights:
            raise ConfigError(f"{option}: needs init_weights (a trained YOLOX), or the frozen detector is random")
        return frozen

    def _metadata(self) -> ModelMetadata:
        meta = super()._metadata()
        meta.forecast_frames = FORECAST_FRAMES
        return meta


def main(argv: Sequence[str] | None = None) -> None:
    """The command (arguments as detector.train); bad input raises (exit 2 under run_command)."""
    from detector.train import main as train_main

    train_main(argv, config_cls=StreamTrainConfig, trainer_cls=StreamTrainer, prog="python -m detector.stream_train")


if __name__ == "__main__":
    sys.exit(run_command(main))
