"""Feature pyramids: PAFPN (YOLOX) and the plain FPN of the YOLOv3 baseline.

Each neck owns its backbone as `.backbone`, as the official checkpoints expect
(keys `backbone.backbone.*`), so a neck maps images to the head's three input levels:

    input      [B, 3, H, W]                      (H, W multiples of 32)
    YOLOPAFPN  P3 [B, 256w, H/8, W/8], P4 [B, 512w, H/16, W/16], P5 [B, 1024w, H/32, W/32]
    YOLOFPN    P3 [B, 128, H/8, W/8],  P4 [B, 256, H/16, W/16],  P5 [B, 512, H/32, W/32]

w is the width multiplier; `out_channels` holds the three channel counts, stride 8 first.
"""
from __future__ import annotations

import torch
from torch import nn

from detector.backbones import CSPDarknet, Darknet53
from detector.blocks import BaseConv, CSPLayer, conv_block


def _up(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")


class YOLOPAFPN(nn.Module):
    """Top-down then bottom-up path aggregation over the stride 8/16/32 maps.

    forward: images [B, 3, H, W] -> (out3 [B, 256w, H/8, W/8], out4 [B, 512w, H/16, W/16],
    out5 [B, 1024w, H/32, W/32]). Top-down: dark5 reduced to 512w, upsampled x2 and
    concatenated with dark4 (1024w), fused and reduced to 256w, upsampled and concatenated with
    dark3 -> out3. Bottom-up: out3 downsampled (stride 2) and concatenated with the 256w
    top-down map -> out4; out4 downsampled and concatenated with the 512w map -> out5.
    """

    def __init__(self, *, depth: float, width: float, depthwise: bool = False, act: str = "silu") -> None:
        super().__init__()
        self.backbone = CSPDarknet(depth=depth, width=width, depthwise=depthwise, act=act)
        c3, c4, c5 = (int(c * width) for c in (256, 512, 1024))
        n = round(3 * depth)
        Conv = conv_block(depthwise)
        self.lateral_conv0 = BaseConv(c5, c4, 1, 1, act=act)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, False, depthwise=depthwise, act=act)
        self.reduce_conv1 = BaseConv(c4, c3, 1, 1, act=act)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, False, depthwise=depthwise, act=act)
        self.bu_conv2 = Conv(c3, c3, 3, 2, act=act)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, False, depthwise=depthwise, act=act)
        self.bu_conv1 = Conv(c4, c4, 3, 2, act=act)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, False, depthwise=depthwise, act=act)
        self.out_channels = (c3, c4, c5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x3, x4, x5 = self.backbone(x)
        top5 = self.lateral_conv0(x5)
        p4 = self.C3_p4(torch.cat([_up(top5), x4], 1))
        top4 = self.reduce_conv1(p4)
        out3 = self.C3_p3(torch.cat([_up(top4), x3], 1))
        out4 = self.C3_n3(torch.cat([self.bu_conv2(out3), top4], 1))
        out5 = self.C3_n4(torch.cat([self.bu_conv1(out4), top5], 1))
        return out3, out4, out5


def _cbl(cin: int, cout: int, k: int) -> BaseConv:
    return BaseConv(cin, cout, k, 1, act="lrelu")


def _embedding(cin: int, mid: int, wide: int) -> nn.Sequential:
    return nn.Sequential(
        _cbl(cin, mid, 1), _cbl(mid, wide, 3), _cbl(wide, mid, 1), _cbl(mid, wide, 3), _cbl(wide, mid, 1),
    )


class YOLOFPN(nn.Module):
    """Darknet-53 with a top-down FPN: outputs 128/256/512 channels at strides 8/16/32.

    forward: images [B, 3, H, W] -> (out3 [B, 128, H/8, W/8], out4 [B, 256, H/16, W/16],
    dark5 [B, 512, H/32, W/32]); the stride-32 level is the backbone's own output, as in the
    official YOLOv3 baseline.
    """

    def __init__(self) -> None:
        super().__init__()
        self.backbone = Darknet53()
        self.out1_cbl = _cbl(512, 256, 1)
        self.out1 = _embedding(512 + 256, 256, 512)
        self.out2_cbl = _cbl(256, 128, 1)
        self.out2 = _embedding(256 + 128, 128, 256)
        self.out_channels = (128, 256, 512)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x3, x4, x5 = self.backbone(x)
        out4 = self.out1(torch.cat([_up(self.out1_cbl(x5)), x4], 1))
        out3 = self.out2(torch.cat([_up(self.out2_cbl(out4)), x3], 1))
        return out3, out4, x5
