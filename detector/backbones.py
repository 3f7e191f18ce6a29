"""Backbones: CSPDarknet (YOLOX family) and Darknet-53 with SPP (the YOLOv3 baseline).

Shapes (B images, input H x W a multiple of 32; w = width multiplier, channels int(64 w) x 2^k):

    input               [B, 3, H, W]  BGR 0-255 (or normalised RGB for legacy weights)
    stem                [B, 64w, H/2, W/2]
    dark2               [B, 128w, H/4, W/4]
    dark3 (stride 8)    [B, 256w, H/8, W/8]      -> output 0
    dark4 (stride 16)   [B, 512w, H/16, W/16]    -> output 1
    dark5 (stride 32)   [B, 1024w, H/32, W/32]   -> output 2

Darknet-53 follows the same table with w = 1, except that its dark5 ends in the SPP block's
1x1 reduction to 512 channels: outputs 256 / 512 / 512 channels. `out_channels` holds the three.
"""
from __future__ import annotations

import torch
from torch import nn

from detector.blocks import BaseConv, CSPLayer, Focus, ResLayer, SPPBottleneck, conv_block


class _FiveStageBackbone(nn.Module):
    """stem -> dark2 ... dark5; returns the stride 8/16/32 maps (dark3, dark4, dark5).

    forward: images [B, 3, H, W] -> (dark3 [B, C3, H/8, W/8], dark4 [B, C4, H/16, W/16],
    dark5 [B, C5, H/32, W/32]) with (C3, C4, C5) = `out_channels`.
    """

    stem: nn.Module
    dark2: nn.Module
    dark3: nn.Module
    dark4: nn.Module
    dark5: nn.Module

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.dark2(self.stem(x))
        c3 = self.dark3(x)
        c4 = self.dark4(c3)
        c5 = self.dark5(c4)
        return c3, c4, c5


class CSPDarknet(_FiveStageBackbone):
    """The YOLOX backbone: Focus stem, CSP stages, SPP before the last stage.

    out_channels = (256w, 512w, 1024w) at strides 8/16/32, computed as int(64w) x 4 / 8 / 16.
    """

    def __init__(self, *, depth: float, width: float, depthwise: bool = False, act: str = "silu") -> None:
        super().__init__()
        Conv = conv_block(depthwise)
        ch = int(width * 64)
        n = max(round(depth * 3), 1)
        self.stem = Focus(3, ch, ksize=3, act=act)
        self.dark2 = nn.Sequential(
            Conv(ch, ch * 2, 3, 2, act=act),
            CSPLayer(ch * 2, ch * 2, n=n, depthwise=depthwise, act=act),
        )
        self.dark3 = nn.Sequential(
            Conv(ch * 2, ch * 4, 3, 2, act=act),
            CSPLayer(ch * 4, ch * 4, n=n * 3, depthwise=depthwise, act=act),
        )
        self.dark4 = nn.Sequential(
            Conv(ch * 4, ch * 8, 3, 2, act=act),
            CSPLayer(ch * 8, ch * 8, n=n * 3, depthwise=depthwise, act=act),
        )
        self.dark5 = nn.Sequential(
            Conv(ch * 8, ch * 16, 3, 2, act=act),
            SPPBottleneck(ch * 16, ch * 16, act=act),
            CSPLayer(ch * 16, ch * 16, n=n, shortcut=False, depthwise=depthwise, act=act),
        )
        self.out_channels = (ch * 4, ch * 8, ch * 16)


def _stage(in_channels: int, num_blocks: int, stride: int) -> list[nn.Module]:
    """Strided conv doubling the channels, then residual units."""
    return [
        BaseConv(in_channels, in_channels * 2, 3, stride, act="lrelu"),
        *[ResLayer(in_channels * 2) for _ in range(num_blocks)],
    ]


def _spp_block(in_channels: int, mid: int, wide: int) -> list[nn.Module]:
    return [
        BaseConv(in_channels, mid, 1, 1, act="lrelu"),
        BaseConv(mid, wide, 3, 1, act="lrelu"),
        SPPBottleneck(wide, mid, act="lrelu"),
        BaseConv(mid, wide, 3, 1, act="lrelu"),
        BaseConv(wide, mid, 1, 1, act="lrelu"),
    ]


class Darknet53(_FiveStageBackbone):
    """Darknet-53 as in the YOLOv3 baseline of the YOLOX paper (SPP on the last stage).

    out_channels = (256, 512, 512) at strides 8/16/32 (with the default 32-channel stem).
    """

    BLOCKS = (2, 8, 8, 4)

    def __init__(self, *, stem_channels: int = 32) -> None:
        super().__init__()
        c = stem_channels
        self.stem = nn.Sequential(BaseConv(3, c, 3, 1, act="lrelu"), *_stage(c, 1, 2))
        c *= 2
        self.dark2 = nn.Sequential(*_stage(c, self.BLOCKS[0], 2))
        self.dark3 = nn.Sequential(*_stage(c * 2, self.BLOCKS[1], 2))
        self.dark4 = nn.Sequential(*_stage(c * 4, self.BLOCKS[2], 2))
        self.dark5 = nn.Sequential(*_stage(c * 8, self.BLOCKS[3], 2), *_spp_block(c * 16, c * 8, c * 16))
        self.out_channels = (c * 4, c * 8, c * 8)

