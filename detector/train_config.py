"""The training configuration (YAML via data.config; every field can be set with --set key=value).

Defaults are the official YOLOX recipe; configs/train_*.yaml change what a run needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from data.config import ConfigError
from detector.postprocess import EVAL_CONF_THRESH, EVAL_NMS_THRESH
from detector.train_data import AugmentConfig


@dataclass
class TrainConfig:
    # Model: a zoo name, or "custom" with depth/width/depthwise/act.
    model: str = "yolox_s"
    depth: float = 0.33
    width: float = 0.5
    depthwise: bool = False
    act: str = "silu"
    num_classes: int | None = None  # None: the number of classes of the training set
    init_weights: str | None = None  # official or own .pth to fine-tune from (cls_preds re-initialised on mismatch)

    # Data (COCO or Argoverse-HD json; image_dir is the folder the file names are relative to).
    train_ann: str = "datasets/coco/annotations/instances_train2017.json"
    train_images: str = "datasets/coco/train2017"
    val_ann: str | None = None
    val_images: str | None = None
    cache_images: bool = True
    max_val_images: int | None = None  # evaluate on a subset during training (None: all)

    # Input and augmentation.
    input_size: tuple[int, int] = (640, 640)  # (H, W), multiples of 32 (detector.grid.check_input_hw)
    multiscale_range: int = 5  # random size every 10 iterations within +- range x 32 (0: off)
    multiscale_interval: int = 10
    aug: AugmentConfig = field(default_factory=AugmentConfig)

    # Optimisation (lr per image x batch size).
    epochs: int = 300
    batch_size: int = 64
    lr_per_image: float = 0.01 / 64
    warmup_epochs: int = 5
    warmup_lr_start: float = 0.0
    no_aug_epochs: int = 15
    min_lr_ratio: float = 0.05
    weight_decay: float = 5e-4
    momentum: float = 0.9
    ema: bool = True
    ema_decay: float = 0.9998
    amp: bool = True  # only takes effect on CUDA
    # bf16 autocast + channels_last on a CPU with native bf16 (AVX-512 BF16 / AMX): a nano step
    # ran 1.45x faster on this project's 2-core machine; ignored on CPUs without it.
    cpu_bf16: bool = True

    # Loss and assignment.
    iou_type: str = "iou"  # detector.losses.IOU_TYPES
    iou_weight: float = 5.0
    center_radius: float = 1.5
    candidate_rule: str = "center"  # detector.assign.CANDIDATE_RULES

    # Running.
    seed: int = 0
    num_workers: int = 2
    threads: int = 2  # torch CPU threads
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    sync_bn: bool = False  # BatchNorm statistics over all ranks (CPU too: detector.distributed)
    # float64 weights and activations: only for checking that DDP equals one large batch, where
    # float32 rounding, amplified through the untrained network, drowns the comparison.
    float64: bool = False
    eval_interval: int = 10  # epochs; the last epoch is always evaluated
    eval_conf: float = EVAL_CONF_THRESH
    eval_nms: float = EVAL_NMS_THRESH
    eval_batch_size: int = 8
    print_interval: int = 10
    save_fp16: bool = False  # store the best/latest model weights in half precision
    max_iters_per_epoch: int | None = None  # shorten epochs (smoke runs, tests)
    stop_after_iters: int | None = None  # stop (saving a resumable checkpoint) after this many global iterations
    run_name: str = "yolox"

    def __post_init__(self) -> None:
        """Values that would divide by zero, silently train nothing or loop forever fail here,
        as one line naming the key (load_config adds the file)."""
        at_least_1 = ("epochs", "batch_size", "multiscale_interval", "eval_interval", "eval_batch_size",
                      "print_interval", "threads")
        for key in at_least_1:
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1, got {getattr(self, key)}")
        at_least_0 = ("warmup_epochs", "no_aug_epochs", "multiscale_range", "num_workers", "weight_decay",
                      "warmup_lr_start")
        for key in at_least_0:
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0, got {getattr(self, key)}")
        if not self.lr_per_image > 0:
            raise ConfigError(f"lr_per_image: must be positive, got {self.lr_per_image}")
        if not 0 <= self.min_lr_ratio <= 1 or not 0 <= self.momentum < 1 or not 0 < self.ema_decay < 1:
            raise ConfigError("min_lr_ratio must be in [0, 1], momentum in [0, 1) and ema_decay in (0, 1)")
        crop = self.aug.crop_size
        if crop is not None and not (0 < crop[0] <= self.input_size[0] and 0 < crop[1] <= self.input_size[1]
                                     and crop[0] % 32 == 0 and crop[1] % 32 == 0):
            raise ConfigError(f"aug.crop_size: must be multiples of 32 within input_size {list(self.input_size)}, "
                              f"got {list(crop)}")
        if not 0 < self.aug.crop_scale[0] <= self.aug.crop_scale[1]:
            raise ConfigError(f"aug.crop_scale: must be 0 < low <= high, got {list(self.aug.crop_scale)}")
        for key in ("num_classes", "max_val_images", "max_iters_per_epoch", "stop_after_iters"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1 (or null), got {getattr(self, key)}")
