"""Shared helpers of the inference/export tests: a small YOLOX whose head gives real detections.

Random weights leave every score near the 0.01 prior, so nothing would pass a demo threshold.
The head is rescaled instead: small regression weights with a 3-stride box prior, and
obj/cls logits spread around 0, which yields many overlapping boxes of several classes -
exactly what thresholds and class-aware NMS must sort out.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from detector.checkpoint import save_checkpoint
from detector.model import build_model

CLASSES = ("car", "person", "bus")


def lively_model(name: str = "yolox_nano", *, num_classes: int = len(CLASSES), seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    model = build_model(name, num_classes=num_classes)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * math.sqrt(2.0 / p[0].numel()))
        for k in range(len(model.head.strides)):
            model.head.reg_preds[k].weight.mul_(0.05)
            model.head.reg_preds[k].bias.copy_(torch.tensor([0.0, 0.0, math.log(3.0), math.log(3.0)]))
            model.head.obj_preds[k].weight.mul_(0.3)  # logits of a few units, as in a trained head
            model.head.obj_preds[k].bias.fill_(-1.0)
            model.head.cls_preds[k].weight.mul_(0.3)
            model.head.cls_preds[k].bias.zero_()
        # Calibrate the BatchNorm statistics on a few structured frames, as training would, so that
        # activations stay in range through the whole network.
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for s in range(2):
            batch = np.stack([np.resize(f, (224, 256, 3)) for f in make_frames(seed + 100 + s)])
            model(torch.from_numpy(batch).permute(0, 3, 1, 2).float())
        for m in bns:
            m.momentum = 0.03
    return model.eval()


def save_lively_checkpoint(path: Path, **kwargs) -> Path:
    model = lively_model(**kwargs)
    save_checkpoint(path, model, model_name="yolox_nano", classes=list(CLASSES), input_size=[224, 256])
    return path


def make_frames(seed: int = 0) -> list[np.ndarray]:
    """Frames of different aspect ratios with some structure (rectangles on noise)."""
    rng = np.random.default_rng(seed)
    frames = []
    for h, w in [(240, 320), (300, 200), (224, 256)]:
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        for _ in range(4):
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            img[y0:y0 + h // 3, x0:x0 + w // 3] = rng.integers(0, 256, size=3, dtype=np.uint8)
        frames.append(img)
    return frames


def assert_same_detections(a, b, *, box_atol: float = 1e-2, score_atol: float = 1e-4) -> None:  # noqa: ANN001
    """Same boxes to a hundredth of a pixel: different batch sizes and backends reorder float
    sums, and exp() in the box decode turns ~1e-5 relative head differences into ~1e-3 px."""
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=box_atol)
    np.testing.assert_allclose(a.scores, b.scores, atol=score_atol)
