"""Learning-rate schedule at key points, parameter groups, and EMA decay."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from detector.ema import ModelEMA
from detector.model import build_model
from detector.schedule import WarmCosSchedule
from detector.trainer_utils import build_optimizer, param_groups


@pytest.fixture
def sched():
    return WarmCosSchedule(lr=0.01, iters_per_epoch=10, total_epochs=300, warmup_epochs=5, no_aug_epochs=15)


def test_warmup_is_quadratic_from_zero(sched):
    assert sched(0) == 0.0
    assert sched(25) == pytest.approx(0.01 * 0.25)  # half way through 50 warmup iterations
    assert sched(50) == pytest.approx(0.01)


def test_cosine_to_five_percent_then_flat(sched):
    end_cos = 300 * 10 - 15 * 10
    mid = (50 + end_cos) // 2
    assert sched(51) == pytest.approx(0.01, rel=1e-4)
    assert sched(mid) == pytest.approx(0.0005 + 0.5 * 0.0095, rel=1e-3)
    assert sched(end_cos - 1) == pytest.approx(0.0005, rel=1e-3)
    assert sched(end_cos) == pytest.approx(0.0005)
    assert sched(2999) == pytest.approx(0.0005)
    values = [sched(i) for i in range(50, end_cos)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_param_groups_decay_only_conv_and_linear_weights():
    model = build_model("yolox_nano", num_classes=3)
    groups = {g["name"]: g for g in param_groups(model, 5e-4)}
    n_params = sum(len(g["params"]) for g in groups.values())
    assert n_params == len(list(model.parameters()))
    assert groups["weights"]["weight_decay"] == 5e-4
    assert groups["bn_weights"]["weight_decay"] == 0 and groups["biases"]["weight_decay"] == 0
    assert all(p.ndim == 4 for p in groups["weights"]["params"])
    assert all(p.ndim == 1 for p in groups["bn_weights"]["params"] + groups["biases"]["params"])
    opt = build_optimizer(model, lr=0.01, momentum=0.9, weight_decay=5e-4)
    assert all(g["nesterov"] and g["momentum"] == 0.9 for g in opt.param_groups)


def test_ema_decay_ramp_and_update():
    model = nn.Linear(2, 1)
    ema = ModelEMA(model, decay=0.9998, ramp=2000)
    assert ema.decay(0) == 0.0
    assert ema.decay(2000) == pytest.approx(0.9998 * (1 - math.exp(-1)))
    w0 = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    d = ema.decay(1)
    assert ema.updates == 1 and 0 < d < 0.001
    # After one update the average moved (1 - d) of the way to the new weights.
    assert torch.allclose(ema.ema.weight, d * w0 + (1 - d) * torch.ones_like(w0), atol=1e-6)
    assert ema.ema.weight.requires_grad is False
