"""Letterboxing frames into the detector's input, and mapping boxes back.

The YOLOX convention (current official weights): keep the aspect ratio with
`r = min(H / h, W / w)`, resize bilinearly to `(int(w * r), int(h * r))`, paste the result at the
TOP-LEFT corner of an (H, W) canvas filled with 114, and feed float32 CHW BGR values in 0-255,
with no normalisation. Because the image sits at the origin, a box maps back by dividing by r.

Legacy weights (the YOLOX 0.1.0 release, before the switch to raw BGR input) were trained on the
same letterboxed canvas, then converted to RGB, divided by 255 and normalised with the ImageNet
mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). The 114 padding is normalised too,
since normalisation happens after the paste. `legacy=True` reproduces that.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from data.boxes import clip_xyxy

PAD_VALUE = 114
LEGACY_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
LEGACY_STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class FrameError(ValueError):
    """A frame that is not an HxWx3 uint8 BGR image."""


def check_frame(frame: object, *, index: int | None = None) -> np.ndarray:
    where = "frame" if index is None else f"frame {index}"
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"{where}: expected a numpy array (H, W, 3) uint8 BGR, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FrameError(f"{where}: expected shape (H, W, 3) BGR, got {frame.shape}")
    if frame.dtype != np.uint8:
        raise FrameError(f"{where}: expected dtype uint8, got {frame.dtype}")
    return frame


def letterbox_ratio(image_hw: tuple[int, int], input_hw: tuple[int, int]) -> float:
    return min(input_hw[0] / image_hw[0], input_hw[1] / image_hw[1])


def letterbox_image(image: np.ndarray, input_hw: tuple[int, int], *, pad_value: int = PAD_VALUE
                    ) -> tuple[np.ndarray, float]:
    """The one letterbox geometry, for training and inference alike.

    A BGR uint8 (h, w, 3) image -> (uint8 (H, W, 3) canvas filled with `pad_value`, ratio r) with the
    image resized by r (bilinear) at the top-left corner. Numpy and OpenCV only, so dataloader
    workers can use it without importing torch.
    """
    h, w = image.shape[:2]
    in_h, in_w = int(input_hw[0]), int(input_hw[1])
    r = letterbox_ratio((h, w), (in_h, in_w))
    new_w, new_h = max(int(w * r), 1), max(int(h * r), 1)
    canvas = np.full((in_h, in_w, 3), pad_value, dtype=np.uint8)
    if (new_w, new_h) == (w, h):
        canvas[:h, :w] = image
    else:
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, r


def preprocess_frame(frame: np.ndarray, input_hw: tuple[int, int], *, legacy: bool = False,
                     out: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """One BGR uint8 frame -> (float32 (3, H, W) network input, ratio r), letterboxed by
    `letterbox_image`.

    `out`, when given, is a float32 (3, H, W) array written in place (a slot of a batch).
    """
    check_frame(frame)
    canvas, r = letterbox_image(frame, input_hw)
    if out is None:
        out = np.empty((3, canvas.shape[0], canvas.shape[1]), dtype=np.float32)
    if legacy:
        rgb = canvas[:, :, ::-1].astype(np.float32) / 255.0
        rgb = (rgb - LEGACY_MEAN_RGB) / LEGACY_STD_RGB
        out[...] = rgb.transpose(2, 0, 1)
    else:
        out[...] = canvas.transpose(2, 0, 1)
    return out, r


def preprocess_batch(frames: Sequence[np.ndarray], input_hw: tuple[int, int], *,
                     legacy: bool = False) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Frames -> (float32 [B, 3, H, W] batch, ratios (B,), original (h, w) of each frame)."""
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        raise FrameError("expected a list of frames, got a single (H, W, 3) array; wrap it in a list")
    if len(frames) == 0:
        raise FrameError("expected at least one frame, got an empty list")
    batch = np.empty((len(frames), 3, int(input_hw[0]), int(input_hw[1])), dtype=np.float32)
    ratios = np.empty(len(frames), dtype=np.float64)
    image_hws = []
    for i, frame in enumerate(frames):
        check_frame(frame, index=i)
        _, ratios[i] = preprocess_frame(frame, input_hw, legacy=legacy, out=batch[i])
        image_hws.append((int(frame.shape[0]), int(frame.shape[1])))
    return batch, ratios, image_hws


class Letterboxer:
    """`preprocess_batch` into one reused float32 batch: the per-frame path of a running detector.

    Each frame is resized straight into its slot of the batch (channel planes written from the
    resized image, only the padding strips filled with 114), so no canvas, no fresh allocation and
    no full-frame float conversion pass happen per call; the result is identical to
    `preprocess_batch`. The returned batch is overwritten by the next call: pass it to a backend
    and do not keep it. Not thread-safe (one per detector, which runs one batch at a time).
    """

    def __init__(self, *, input_hw: tuple[int, int], legacy: bool = False) -> None:
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.legacy = bool(legacy)
        self._batch = np.empty((0, 3, *self.input_hw), dtype=np.float32)
        self._resized: dict[tuple[int, int], np.ndarray] = {}  # (new_h, new_w) -> uint8 scratch

    def __call__(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        if self.legacy:  # rare (YOLOX 0.1.0 weights): the plain path
            return preprocess_batch(frames, self.input_hw, legacy=True)
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            raise FrameError("expected a list of frames, got a single (H, W, 3) array; wrap it in a list")
        if len(frames) == 0:
            raise FrameError("expected at least one frame, got an empty list")
        if self._batch.shape[0] < len(frames):
            self._batch = np.empty((len(frames), 3, *self.input_hw), dtype=np.float32)
        batch = self._batch[:len(frames)]
        ratios = np.empty(len(frames), dtype=np.float64)
        image_hws = []
        in_h, in_w = self.input_hw
        for i, frame in enumerate(frames):
            check_frame(frame, index=i)
            h, w = frame.shape[:2]
            r = letterbox_ratio((h, w), self.input_hw)
            new_w, new_h = max(int(w * r), 1), max(int(h * r), 1)
            if (new_w, new_h) == (w, h):
                resized = frame
            else:
                resized = self._resized.get((new_h, new_w))
                if resized is None:
                    if len(self._resized) > 8:  # a stream of ever-changing frame sizes
                        self._resized.clear()
                    resized = self._resized.setdefault((new_h, new_w), np.empty((new_h, new_w, 3), np.uint8))
                cv2.resize(frame, (new_w, new_h), dst=resized, interpolation=cv2.INTER_LINEAR)
            out = batch[i]
            for c in range(3):  # plane by plane: a strided read, a contiguous write, no temporaries
                out[c, :new_h, :new_w] = resized[:, :, c]
            out[:, new_h:, :] = PAD_VALUE
            out[:, :new_h, new_w:] = PAD_VALUE
            ratios[i] = r
            image_hws.append((int(h), int(w)))
        return batch, ratios, image_hws


def unletterbox_boxes(boxes_xyxy: np.ndarray, ratio: float, image_hw: tuple[int, int]) -> np.ndarray:
    """Boxes in network-input pixels -> boxes in original-image pixels, clipped to the image."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float32) / np.float32(ratio)
    return clip_xyxy(boxes, image_hw[1], image_hw[0])


def letterbox_boxes(boxes_xyxy: np.ndarray, ratio: float) -> np.ndarray:
    """Original-image boxes -> network-input pixels (the inverse mapping, for tests and training)."""
    return np.asarray(boxes_xyxy, dtype=np.float32) * np.float32(ratio)
