"""The YOLOX learning-rate schedule ("yoloxwarmcos"): quadratic warmup, cosine decay to
`min_lr_ratio` x lr, then a flat minimum for the last no-augmentation epochs."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WarmCosSchedule:
    lr: float  # peak learning rate (per-image lr x batch size)
    iters_per_epoch: int
    total_epochs: int
    warmup_epochs: int = 5
    no_aug_epochs: int = 15
    warmup_lr_start: float = 0.0
    min_lr_ratio: float = 0.05

    @property
    def total_iters(self) -> int:
        return self.iters_per_epoch * self.total_epochs

    @property
    def warmup_iters(self) -> int:
        return self.iters_per_epoch * self.warmup_epochs

    @property
    def no_aug_iters(self) -> int:
        return self.iters_per_epoch * self.no_aug_epochs

    @property
    def min_lr(self) -> float:
        return self.lr * self.min_lr_ratio

    def __call__(self, iters: int) -> float:
        """Learning rate for global iteration `iters` (0-based count of finished iterations)."""
        if self.warmup_iters > 0 and iters <= self.warmup_iters:
            frac = iters / self.warmup_iters
            return (self.lr - self.warmup_lr_start) * frac ** 2 + self.warmup_lr_start
        if iters >= self.total_iters - self.no_aug_iters:
            return self.min_lr
        span = max(self.total_iters - self.warmup_iters - self.no_aug_iters, 1)
        progress = (iters - self.warmup_iters) / span
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))
