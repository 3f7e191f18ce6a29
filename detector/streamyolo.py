"""StreamYOLO (Yang et al., CVPR 2022): YOLOX that sees the previous frame and predicts the next one.

The YOLOX backbone and PAFPN run on each frame; the Dual-Flow Perception module (DFP) fuses the
current frame's PAN features with the previous frame's, and the unchanged YOLOX head is trained to
output the boxes of the *next* frame (detector.tal). Module names follow the official checkpoints
(`backbone.backbone.*` CSPDarknet, `backbone.*` PAFPN plus `jian2/1/0`, `head.*`), so those load
strictly.

Shapes (w = width multiplier, levels at strides 8 / 16 / 32, Ck = 256w / 512w / 1024w):

    images (two-frame)  [B, 6, H, W]   channels 0-2 the current frame, 3-5 the previous one
    images (one frame)  [B, 3, H, W]   the frame is its own previous (the official first frame)
    PAN features        three [B, Ck, H/s, W/s] per frame (what the online buffer keeps)
    jian_k              1x1 Conv-BN-act, Ck -> Ck / 2 (2, 1, 0 for strides 8, 16, 32)
    DFP out level k     cat(jian_k(cur), jian_k(prev)) + cur          [B, Ck, H/s, W/s]
    head output         [B, N, 5 + C] as detector.head, boxes at the next frame

Online (`forward_online`), one backbone pass per processed frame: the previous processed frame's
PAN features come from the buffer the last call returned, so a frame costs what plain YOLOX costs
plus three 1x1 convs (detector.backends.torch_backend.StreamTorchBackend keeps the buffer; exported
graphs take it as inputs and return it as outputs, detector.export_stream, and the ONNX Runtime and
OpenVINO backends keep it the same way).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from detector.blocks import conv_block
from detector.head import YOLOXHead
from detector.model import YOLOX
from detector.necks import YOLOPAFPN
from detector.zoo import MODEL_ZOO

Features = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # stride 8, 16, 32


@dataclass(frozen=True)
class StreamSpec:
    name: str
    base: str  # the YOLOX zoo model it extends (depth, width, depthwise) and is initialised from
    input_size: tuple[int, int]  # (H, W); the official 600x960 is not a multiple of 32 here


STREAMYOLO_MODELS: dict[str, StreamSpec] = {
    "streamyolo_nano": StreamSpec("streamyolo_nano", "yolox_nano", (320, 512)),
    "streamyolo_tiny": StreamSpec("streamyolo_tiny", "yolox_tiny", (384, 608)),
    "streamyolo_s": StreamSpec("streamyolo_s", "yolox_s", (608, 960)),
    "streamyolo_m": StreamSpec("streamyolo_m", "yolox_m", (608, 960)),
    "streamyolo_l": StreamSpec("streamyolo_l", "yolox_l", (608, 960)),
}
# How many frames ahead a StreamYOLO output is (the one-x setting of the paper).
FORECAST_FRAMES = 1


class DFPPAFPN(YOLOPAFPN):
    """YOLOPAFPN plus the Dual-Flow Perception fusion; see the module docstring for shapes.

    `jian*` are registered after the PAFPN layers, which is the official state_dict order.
    """

    def __init__(self, *, depth: float, width: float, depthwise: bool = False, act: str = "silu") -> None:
        super().__init__(depth=depth, width=width, depthwise=depthwise, act=act)
        Conv = conv_block(depthwise)
        c3, c4, c5 = self.out_channels
        self.jian2 = Conv(c3, c3 // 2, 1, 1, act=act)
        self.jian1 = Conv(c4, c4 // 2, 1, 1, act=act)
        self.jian0 = Conv(c5, c5 // 2, 1, 1, act=act)

    def pan(self, images: torch.Tensor) -> Features:
        """One frame [B, 3, H, W] through backbone and PAFPN -> its three PAN maps."""
        return super().forward(images)

    def fuse_flows(self, current: Features, previous: Features) -> Features:
        """DFP: per level cat(jian(cur), jian(prev)) + cur."""
        jians = (self.jian2, self.jian1, self.jian0)
        return tuple(torch.cat([j(c), j(p)], 1) + c for j, c, p in zip(jians, current, previous))  # type: ignore[return-value]

    def forward(self, images: torch.Tensor) -> Features:
        """[B, 6, H, W] (current, previous) or [B, 3, H, W] (its own previous) -> fused features."""
        if images.shape[1] == 3:
            current = self.pan(images)
            return self.fuse_flows(current, current)
        if images.shape[1] != 6:
            raise ValueError(f"StreamYOLO expects [B, 3, H, W] or [B, 6, H, W] images, got {list(images.shape)}")
        # Two passes, not one 2B batch: in training BatchNorm then normalises each frame's batch
        # on its own and updates its running statistics twice, as the official code does.
        return self.fuse_flows(self.pan(images[:, :3]), self.pan(images[:, 3:]))


class StreamYOLO(YOLOX):
    """YOLOX with a DFPPAFPN neck; `forward` takes two stacked frames, `forward_online` one frame
    and the buffer of the previous processed one."""

    backbone: DFPPAFPN
    forecast_frames = FORECAST_FRAMES

    def forward_online(self, image: torch.Tensor, buffer: Features | None = None
                       ) -> tuple[torch.Tensor, Features]:
        """image [B, 3, H, W], buffer the PAN features of the previous processed frame (None: the
        first frame of a sequence, which is its own previous, as officially) -> (head output
        [B, N, 5 + C], this frame's PAN features: the next call's buffer)."""
        current = self.backbone.pan(image)
        previous = current if buffer is None else buffer
        if len(previous) != 3 or any(p.shape != c.shape for p, c in zip(previous, current)):
            raise ValueError("StreamYOLO buffer does not match this frame's features (another input size or "
                             "batch?); reset the buffer between sequences")
        return self.head(self.backbone.fuse_flows(current, previous)), current


def stream_spec(name: str) -> StreamSpec:
    if name not in STREAMYOLO_MODELS:
        raise ValueError(f"unknown StreamYOLO model {name!r} (expected one of {', '.join(STREAMYOLO_MODELS)})")
    return STREAMYOLO_MODELS[name]


def build_streamyolo(name: str | None = None, *, depth: float = 1.0, width: float = 1.0, num_classes: int = 8,
                     depthwise: bool = False, act: str = "silu") -> StreamYOLO:
    """A StreamYOLO by name (streamyolo_nano ... streamyolo_l) or any depth / width; 8 classes
    (Argoverse-HD) by default, as the official checkpoints."""
    if name is not None:
        base = MODEL_ZOO[stream_spec(name).base]
        depth, width, depthwise, act = base.depth, base.width, base.depthwise, base.act
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    neck = DFPPAFPN(depth=depth, width=width, depthwise=depthwise, act=act)
    head = YOLOXHead(num_classes=num_classes, width=width, act=act, depthwise=depthwise)
    return StreamYOLO(backbone=neck, head=head)


def is_streamyolo_state(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state_dict holds DFP weights (official StreamYOLO files carry no metadata)."""
    return "backbone.jian2.conv.weight" in state or "backbone.jian2.dconv.conv.weight" in state


def stream_name_of(yolox_name: str) -> str | None:
    """streamyolo_s for yolox_s (the architecture inferred from the shapes), else None."""
    for spec in STREAMYOLO_MODELS.values():
        if spec.base == yolox_name:
            return spec.name
    return None
