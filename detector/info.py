"""`python -m detector.info --model M [--input-size H W]`: parameters and GFLOPs of a model."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from data.cli import run_command
from detector.backends.base import DEFAULT_INPUT_SIZE
from detector.grid import check_input_hw


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_gflops(model: nn.Module, input_hw: tuple[int, int]) -> float:
    """GFLOPs as the YOLOX paper reports them: 2 x multiply-adds, where a conv costs one
    multiply-add per weight per output element (plus its bias) and a BatchNorm two per element."""
    macs = 0

    def hook(mod: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            per_output = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            macs += out.numel() * (per_output + (1 if mod.bias is not None else 0))
        elif isinstance(mod, nn.BatchNorm2d):
            macs += 2 * out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, 3, *input_hw))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return 2 * macs / 1e9


def main(argv: Sequence[str] | None = None) -> None:
    from detector.checkpoint import load_model
    from detector.model import build_model
    from detector.zoo import MODEL_ZOO

    ap = argparse.ArgumentParser(description="Parameters and GFLOPs of a YOLOX model.")
    ap.add_argument("--model", required=True, help="zoo name (e.g. yolox_s) or a .pth checkpoint")
    ap.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None)
    ap.add_argument("--num-classes", type=int, default=80, help="for zoo names (default 80)")
    args = ap.parse_args(argv)
    if args.model in MODEL_ZOO:
        model, name = build_model(args.model, num_classes=args.num_classes), args.model
        input_hw = args.input_size or MODEL_ZOO[args.model].input_size
    else:
        model, meta = load_model(Path(args.model))
        name = str(meta.model_name)
        input_hw = args.input_size or meta.input_size or DEFAULT_INPUT_SIZE
    input_hw = check_input_hw(input_hw, what="--input-size")
    print(f"{'model':<14}{'classes':>8}{'input':>11}{'params (M)':>12}{'GFLOPs':>9}")
    print(f"{name:<14}{model.num_classes:>8}{f'{input_hw[0]}x{input_hw[1]}':>11}"
          f"{count_params(model) / 1e6:>12.2f}{count_gflops(model, input_hw):>9.2f}")


if __name__ == "__main__":
    sys.exit(run_command(main))
