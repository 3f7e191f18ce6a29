"""The decoupled YOLOX head: per level a stem, a classification branch and a regression branch
(which also predicts objectness). Module names follow the official checkpoints.

Per level k (stride s = 8, 16, 32; Hk, Wk = H/s, W/s; hidden = 256w; C classes):

    input      [B, in_channels[k] * w, Hk, Wk]      (YOLOPAFPN: 256w / 512w / 1024w)
    stem       [B, hidden, Hk, Wk]                  1x1 conv
    cls branch [B, hidden, Hk, Wk] -> cls [B, C, Hk, Wk]
    reg branch [B, hidden, Hk, Wk] -> reg [B, 4, Hk, Wk] and obj [B, 1, Hk, Wk]
    level out  [B, 5 + C, Hk * Wk]                  channels [reg(4), obj, cls(C)]
    output     [B, N, 5 + C], N = sum over levels of Hk * Wk (8400 at 640x640), stride 8 first,
               row-major within a level: the anchor order of detector.grid
"""
from __future__ import annotations

import math

import torch
from torch import nn

from detector.blocks import BaseConv, conv_block
from detector.grid import STRIDES, decode_boxes, torch_grid

PRIOR_PROB = 0.01


class YOLOXHead(nn.Module):
    """feats (three [B, Ck, H/s, W/s] maps, stride 8 first) -> [B, N, 5 + C] per anchor
    `[x, y, w, h, obj, cls...]`.

    Training mode: raw logits, (B, N, 5 + C); the losses live outside the model.
    Eval mode: sigmoid on obj/cls, and boxes decoded to (cx, cy, w, h) input pixels when
    `decode_in_inference` is True (set it False for the official raw export layout).
    """

    def __init__(self, *, num_classes: int, width: float = 1.0, in_channels: tuple[int, ...] = (256, 512, 1024),
                 strides: tuple[int, ...] = STRIDES, act: str = "silu", depthwise: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.decode_in_inference = True
        hidden = int(256 * width)
        Conv = conv_block(depthwise)
        # Registration order defines state_dict order; it matches the official files.
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        self.cls_preds = nn.ModuleList()
        self.reg_preds = nn.ModuleList()
        self.obj_preds = nn.ModuleList()
        self.stems = nn.ModuleList()
        for cin in in_channels:
            self.stems.append(BaseConv(int(cin * width), hidden, 1, 1, act=act))
            self.cls_convs.append(nn.Sequential(Conv(hidden, hidden, 3, 1, act=act), Conv(hidden, hidden, 3, 1, act=act)))
            self.reg_convs.append(nn.Sequential(Conv(hidden, hidden, 3, 1, act=act), Conv(hidden, hidden, 3, 1, act=act)))
            self.cls_preds.append(nn.Conv2d(hidden, num_classes, 1))
            self.reg_preds.append(nn.Conv2d(hidden, 4, 1))
            self.obj_preds.append(nn.Conv2d(hidden, 1, 1))
        self.initialize_biases(PRIOR_PROB)

    @torch.no_grad()
    def initialize_biases(self, prior_prob: float) -> None:
        """Start cls/obj at probability `prior_prob`, so early training is not swamped by
        the loss of thousands of easy negatives."""
        value = -math.log((1 - prior_prob) / prior_prob)
        for conv in list(self.cls_preds) + list(self.obj_preds):
            conv.bias.fill_(value)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        outputs, feature_hw = [], []
        for k, x in enumerate(feats):
            x = self.stems[k](x)
            cls_out = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            reg_out = self.reg_preds[k](reg_feat)
            obj_out = self.obj_preds[k](reg_feat)
            if not self.training:
                obj_out, cls_out = obj_out.sigmoid(), cls_out.sigmoid()
            out = torch.cat([reg_out, obj_out, cls_out], dim=1)
            feature_hw.append((int(out.shape[-2]), int(out.shape[-1])))
            outputs.append(out.flatten(start_dim=2))
        out = torch.cat(outputs, dim=2).permute(0, 2, 1)
        if self.training or not self.decode_in_inference:
            return out
        grid, stride = torch_grid(feature_hw, self.strides, dtype=out.dtype, device=out.device)
        return torch.cat([decode_boxes(out[..., :4], grid, stride), out[..., 4:]], dim=-1)
