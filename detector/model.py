"""The YOLOX model: a neck (which owns the backbone) and the decoupled head."""
from __future__ import annotations

import torch
from torch import nn

from detector.blocks import BaseConv
from detector.head import YOLOXHead
from detector.necks import YOLOFPN, YOLOPAFPN
from detector.zoo import get_spec


class YOLOX(nn.Module):
    def __init__(self, *, backbone: nn.Module, head: YOLOXHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: float32 [B, 3, H, W], BGR 0-255, H and W multiples of 32 -> head output
        [B, N, 5 + C], N = (H/8)(W/8) + (H/16)(W/16) + (H/32)(W/32) (see detector.head)."""
        return self.head(self.backbone(images))

    def fuse(self) -> "YOLOX":
        """Fold every BatchNorm into its conv for faster inference (eval only, in place)."""
        self.eval()
        for m in self.modules():
            if isinstance(m, BaseConv):
                m.fuse()
        return self


def build_model(name: str | None = None, *, depth: float = 1.0, width: float = 1.0, num_classes: int = 80,
                depthwise: bool = False, act: str = "silu", arch: str = "yolox") -> YOLOX:
    """A zoo model by name (yolox_nano ... yolox_x, yolov3), or any depth/width/num_classes."""
    if name is not None:
        spec = get_spec(name)
        depth, width, depthwise, act, arch = spec.depth, spec.width, spec.depthwise, spec.act, spec.arch
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if arch == "yolov3":
        neck: nn.Module = YOLOFPN()
        head = YOLOXHead(num_classes=num_classes, width=1.0, in_channels=(128, 256, 512), act="lrelu")
    elif arch == "yolox":
        neck = YOLOPAFPN(depth=depth, width=width, depthwise=depthwise, act=act)
        head = YOLOXHead(num_classes=num_classes, width=width, act=act, depthwise=depthwise)
    else:
        raise ValueError(f"unknown architecture {arch!r} (expected yolox or yolov3)")
    return YOLOX(backbone=neck, head=head)
