"""detector.preprocess's letterbox as torch ops, so that frames are letterboxed where the network runs.

Same geometry as `detector.preprocess.letterbox` (the one definition; this is its device twin, kept
equal by tests/detector/test_tensorrt.py on real frames): r = min(H / h, W / w), bilinear resize to
(int(w * r), int(h * r)), paste at the top-left of an (H, W) canvas of 114, float32 CHW BGR 0-255
(or the legacy RGB ImageNet normalisation). The resize uses half-pixel centres without antialiasing,
as OpenCV's INTER_LINEAR does, and rounds to whole grey levels because OpenCV's output is uint8;
OpenCV's fixed-point weights leave at most one grey level of difference.

Works on any torch device: a CUDA frame for the TensorRT backend, a CPU tensor in tests.
"""
from __future__ import annotations

from typing import Any

from detector.preprocess import LEGACY_MEAN_RGB, LEGACY_STD_RGB, PAD_VALUE, letterbox_ratio


def letterbox_torch(frame_hwc: Any, input_hw: tuple[int, int], *, out: Any = None, legacy: bool = False
                    ) -> tuple[Any, float]:
    """uint8 (h, w, 3) BGR tensor -> (float32 (3, H, W) tensor on the same device, ratio r).

    `out`, when given, is a float32 (3, H, W) tensor (a slot of a persistent batch) written in place.
    """
    import torch
    import torch.nn.functional as F

    if frame_hwc.dtype != torch.uint8 or frame_hwc.dim() != 3 or frame_hwc.shape[2] != 3:
        raise ValueError(f"expected a uint8 (h, w, 3) frame tensor, got {tuple(frame_hwc.shape)} {frame_hwc.dtype}")
    h, w = int(frame_hwc.shape[0]), int(frame_hwc.shape[1])
    in_h, in_w = int(input_hw[0]), int(input_hw[1])
    r = letterbox_ratio((h, w), (in_h, in_w))
    new_w, new_h = max(int(w * r), 1), max(int(h * r), 1)
    if out is None:
        out = torch.empty((3, in_h, in_w), dtype=torch.float32, device=frame_hwc.device)
    chw = frame_hwc.permute(2, 0, 1).unsqueeze(0).float()  # (1, 3, h, w)
    if (new_h, new_w) != (h, w):
        chw = F.interpolate(chw, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=False)
        chw = chw.round_().clamp_(0, 255)
    out.fill_(PAD_VALUE)
    out[:, :new_h, :new_w] = chw[0]
    if legacy:
        mean = torch.tensor(LEGACY_MEAN_RGB[::-1].copy(), device=out.device).view(3, 1, 1)  # BGR order
        std = torch.tensor(LEGACY_STD_RGB[::-1].copy(), device=out.device).view(3, 1, 1)
        out.copy_(((out / 255.0 - mean) / std).flip(0))  # normalise, then BGR -> RGB channel order
    return out, r
