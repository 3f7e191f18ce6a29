"""A small StreamYOLO with random weights whose previous-frame flow visibly moves its output."""
from __future__ import annotations

import torch

from detector.streamyolo import StreamYOLO, build_streamyolo


def random_streamyolo(*, num_classes: int = 3, seed: int = 0) -> StreamYOLO:
    torch.manual_seed(seed)
    model = build_streamyolo("streamyolo_nano", num_classes=num_classes).eval()
    with torch.no_grad():
        for m in model.modules():  # non-trivial BN statistics so fusion and buffers mean something
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
        # at its default init the previous flow barely moves the head's output
        for jian in (model.backbone.jian2, model.backbone.jian1, model.backbone.jian0):
            for m in jian.modules():
                if isinstance(m, torch.nn.Conv2d):
                    m.weight.mul_(30.0)
    return model
