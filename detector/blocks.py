"""The small set of building blocks every YOLOX model (and the Darknet-53 baseline) is made of.

Attribute names are part of the official checkpoint format: they must stay as they are so that
state_dict keys match the released YOLOX weights.
"""
from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def make_activation(name: str) -> nn.Module:
    if name == "silu":
        return nn.SiLU(inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "lrelu":
        return nn.LeakyReLU(0.1, inplace=True)
    raise ValueError(f"unknown activation {name!r} (expected silu, relu or lrelu)")


class BaseConv(nn.Module):
    """Conv2d (no bias) -> BatchNorm -> activation, 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int,
                 groups: int = 1, act: str = "silu") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, ksize, stride, padding=(ksize - 1) // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = make_activation(act)
        self.fused = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return self.act(self.conv(x))
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the BatchNorm into the conv (inference only; changes the state_dict)."""
        if self.fused:
            return
        bn, conv = self.bn, self.conv
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          conv.padding, groups=conv.groups, bias=True).to(conv.weight.device, conv.weight.dtype)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        self.conv = fused
        del self.bn
        self.fused = True


class DWConv(nn.Module):
    """Depthwise 3x3 followed by pointwise 1x1 (used by the nano model)."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1,
                 act: str = "silu") -> None:
        super().__init__()
        self.dconv = BaseConv(in_channels, in_channels, ksize, stride, groups=in_channels, act=act)
        self.pconv = BaseConv(in_channels, out_channels, 1, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def conv_block(depthwise: bool) -> type[nn.Module]:
    return DWConv if depthwise else BaseConv


class Bottleneck(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False, act: str = "silu") -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1, 1, act=act)
        self.conv2 = conv_block(depthwise)(hidden, out_channels, 3, 1, act=act)
        self.use_add = shortcut and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return x + y if self.use_add else y


class ResLayer(nn.Module):
    """Darknet-53 residual unit: 1x1 halving, 3x3 restoring, identity shortcut."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        mid = in_channels // 2
        self.layer1 = BaseConv(in_channels, mid, 1, 1, act="lrelu")
        self.layer2 = BaseConv(mid, in_channels, 3, 1, act="lrelu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer2(self.layer1(x))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling (max-pools 5, 9, 13) between two 1x1 convs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: tuple[int, ...] = (5, 9, 13),
                 act: str = "silu") -> None:
        super().__init__()
        hidden = in_channels // 2
        self.conv1 = BaseConv(in_channels, hidden, 1, 1, act=act)
        self.m = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), out_channels, 1, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.m], dim=1))


class CSPLayer(nn.Module):
    """Cross-stage partial layer: two 1x1 branches, n bottlenecks on one, concat, 1x1 fuse."""

    def __init__(self, in_channels: int, out_channels: int, n: int = 1, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False, act: str = "silu") -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1, 1, act=act)
        self.conv2 = BaseConv(in_channels, hidden, 1, 1, act=act)
        self.conv3 = BaseConv(2 * hidden, out_channels, 1, 1, act=act)
        self.m = nn.Sequential(*[
            Bottleneck(hidden, hidden, shortcut, 1.0, depthwise, act=act) for _ in range(n)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.cat([self.m(self.conv1(x)), self.conv2(x)], dim=1))


class Focus(nn.Module):
    """Space-to-depth (2x2 pixel blocks to channels) followed by a conv.

    Channel order (top-left, bottom-left, top-right, bottom-right) is fixed by the official
    weights: the first conv's input channels are laid out in this order.
    """

    def __init__(self, in_channels: int, out_channels: int, ksize: int = 1, stride: int = 1,
                 act: str = "silu") -> None:
        super().__init__()
        self.conv = BaseConv(in_channels * 4, out_channels, ksize, stride, act=act)
        self.folded = False

    @torch.no_grad()
    def fold(self) -> None:
        """Fold the space-to-depth into the conv (for exported graphs; changes the state_dict).

        A k x k conv (stride 1) over the four half-resolution planes is one 2k x 2k conv with
        stride 2 and padding 2 * (k // 2) over the image: plane (dy, dx) at tap (i, j) reads pixel
        (2 * i + dy, 2 * j + dx) of the window. OpenVINO runs the four strided slices and their
        concat with reference kernels; the folded conv does the same multiply-adds in its optimised
        kernel (YOLOX-S 384x640 INT8, one thread: the stem took 5.3 ms, folded 2.9 ms).
        """
        conv = self.conv.conv
        if self.folded or conv.stride != (1, 1) or conv.groups != 1 or conv.kernel_size[0] % 2 == 0:
            return
        k, planes = conv.kernel_size[0], conv.in_channels // 4
        w = conv.weight.reshape(conv.out_channels, 4, planes, k, k)
        big = torch.zeros(conv.out_channels, planes, 2 * k, 2 * k, dtype=w.dtype, device=w.device)
        for s, (dy, dx) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):  # forward()'s plane order
            big[:, :, dy::2, dx::2] = w[:, s]
        folded = nn.Conv2d(planes, conv.out_channels, 2 * k, stride=2, padding=2 * (k // 2),
                           bias=conv.bias is not None).to(device=w.device, dtype=w.dtype)
        folded.weight.copy_(big)
        if conv.bias is not None:
            folded.bias.copy_(conv.bias)
        self.conv.conv = folded
        self.folded = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded:
            return self.conv(x)
        tl = x[..., ::2, ::2]
        tr = x[..., ::2, 1::2]
        bl = x[..., 1::2, ::2]
        br = x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


def fold_space_to_depth(model: nn.Module) -> nn.Module:
    """Every Focus stem of `model` folded into one strided conv (`Focus.fold`), in place."""
    for m in model.modules():
        if isinstance(m, Focus):
            m.fold()
    return model
