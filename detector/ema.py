"""Exponential moving average of model weights (and BatchNorm statistics), as in YOLOX."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DataParallel/DistributedDataParallel."""
    return model.module if hasattr(model, "module") else model


class ModelEMA:
    """decay(updates) = decay * (1 - exp(-updates / ramp)): small at first, so the average is
    not dominated by the random initialisation, approaching `decay` later."""

    def __init__(self, model: nn.Module, *, decay: float = 0.9998, ramp: float = 2000.0, updates: int = 0) -> None:
        self.ema = copy.deepcopy(unwrap(model)).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay_max = decay
        self.ramp = ramp
        self.updates = updates

    def decay(self, updates: int | None = None) -> float:
        u = self.updates if updates is None else updates
        return self.decay_max * (1.0 - math.exp(-u / self.ramp))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay()
        msd = unwrap(model).state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1.0 - d)

    def state_dict(self) -> dict:
        return {"model": self.ema.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.ema.load_state_dict(state["model"])
        self.updates = int(state["updates"])
