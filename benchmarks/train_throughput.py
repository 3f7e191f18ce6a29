"""Training throughput on this machine: images/second for forward + loss + backward + SGD step.

    python benchmarks/train_throughput.py [--models yolox_nano yolox_s] [--batch 8] [--size 416 416]

Random images with a few random boxes each; the loss includes SimOTA, so the number is what a
real training iteration costs (without data loading). Prints a table with the ratio to the
first model.
"""
from __future__ import annotations

import argparse
import time

import torch

from detector.losses import YOLOXLoss
from detector.model import build_model
from detector.trainer import cpu_has_bf16
from detector.trainer_utils import build_optimizer


def random_targets(batch: int, hw: tuple[int, int], num_classes: int, per_image: int, g: torch.Generator) -> torch.Tensor:
    t = torch.full((batch, per_image, 5), -1.0)
    wh = torch.rand(batch, per_image, 2, generator=g) * torch.tensor([hw[1] / 3, hw[0] / 3]) + 8
    cxy = torch.rand(batch, per_image, 2, generator=g) * torch.tensor([hw[1], hw[0]])
    t[..., 0] = torch.randint(0, num_classes, (batch, per_image), generator=g).float()
    t[..., 1:3] = cxy
    t[..., 3:5] = wh
    return t


def measure(name: str, *, batch: int, hw: tuple[int, int], iters: int, warmup: int, num_classes: int,
            bf16: bool = False) -> float:
    """Images/s of a full step; bf16: autocast + channels_last as the trainer's cpu_bf16 does."""
    model = build_model(name, num_classes=num_classes).train()
    if bf16:
        model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, lr=1e-4, momentum=0.9, weight_decay=5e-4)
    loss_fn = YOLOXLoss(num_classes=num_classes)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, *hw, generator=g) * 255
    if bf16:
        images = images.contiguous(memory_format=torch.channels_last)
    targets = random_targets(batch, hw, num_classes, 6, g)
    for i in range(warmup + iters):
        if i == warmup:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            raw = model(images)
        loss = loss_fn(raw.float(), targets, hw)["total_loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return batch * iters / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["yolox_nano", "yolox_s"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, nargs=2, default=[416, 416], metavar=("H", "W"))
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--num-classes", type=int, default=80)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    hw = tuple(args.size)
    rows = []
    for name in args.models:
        for bf16 in (False, True) if cpu_has_bf16() else (False,):
            rows.append((name + (" bf16" if bf16 else " f32"),
                         measure(name, batch=args.batch, hw=hw, iters=args.iters, warmup=args.warmup,
                                 num_classes=args.num_classes, bf16=bf16)))
    print(f"training throughput, batch {args.batch}, input {hw[0]}x{hw[1]}, {args.threads} threads, CPU")
    print(f"{'model':<18}{'img/s':>10}{'s/iter':>10}{'vs ' + rows[0][0]:>22}")
    for name, ips in rows:
        print(f"{name:<18}{ips:>10.2f}{args.batch / ips:>10.3f}{ips / rows[0][1]:>22.3f}")


if __name__ == "__main__":
    main()
