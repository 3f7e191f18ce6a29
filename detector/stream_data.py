"""StreamYOLO training samples: (current frame, previous frame) -> the boxes of the next frame.

From any Argoverse-HD-layout dataset (data.argoverse; the synthetic worlds are in that layout).
For frame i of a sequence the previous frame is i - 1 and the target frame i + 1; at the ends
a frame stands in for the missing one (the first frame is its own previous, the last one its own
next), as the official one-x dataset does. Each target object carries its trend-aware weight
(detector.tal) from its box at frame i.

The official recipe trains without mosaic, mixup or HSV jitter; its one augmentation, the
horizontal flip, is drawn once per sample and applied to both images and both frames' boxes
(the weights are flip-invariant: IoU does not change under a mirror). `crop_hw` adds a random
window (detector.augment.random_crop), likewise one per sample, to train at the input size's
object scale for the window's cost. Random draws come from (seed, epoch, index), like
detector.train_data, so a resumed run sees the same batches.

Yields (images uint8 [6, H, W]: channels 0-2 the current frame, 3-5 the previous one, BGR;
targets float32 [max_labels, 6] of (label, cx, cy, w, h, weight) in input pixels, label -1 pads).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from data.argoverse import ArgoverseHD
from data.boxes import xyxy_to_cxcywh
from data.coco import read_image
from detector.augment import hflip, random_crop
from detector.preprocess import letterbox_image
from detector.tal import TrendConfig, trend_weights


@dataclass(frozen=True)
class StreamSample:
    previous: int  # image ids
    current: int
    next: int


def stream_samples(dataset: ArgoverseHD) -> list[StreamSample]:
    """One sample per annotated frame, sequence by sequence."""
    out = []
    for seq in dataset.sequences:
        ids = [f.image_id for f in seq.frames]
        for i, cur in enumerate(ids):
            out.append(StreamSample(ids[max(i - 1, 0)], cur, ids[min(i + 1, len(ids) - 1)]))
    return out


class StreamPairDataset(Dataset):
    """See the module docstring. `cache` keeps every letterboxed frame in RAM (small worlds)."""

    def __init__(self, dataset: ArgoverseHD, input_hw: tuple[int, int], *, flip_prob: float = 0.5,
                 trend: TrendConfig = TrendConfig(), seed: int = 0, max_labels: int = 120,
                 cache: bool = False, crop_hw: tuple[int, int] | None = None,
                 crop_scale: tuple[float, float] = (1.0, 1.0)) -> None:
        if not dataset.has_annotations:
            raise ValueError(f"{dataset.annotation_file}: has no annotations to train on")
        self.dataset = dataset
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.flip_prob = float(flip_prob)
        self.trend = trend
        self.seed = seed
        self.max_labels = int(max_labels)
        self.crop_hw = None if crop_hw is None else (int(crop_hw[0]), int(crop_hw[1]))
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.samples = stream_samples(dataset)
        if not self.samples:
            raise ValueError(f"{dataset.annotation_file}: no frames to train on")
        self.epoch = 0
        self.enable_mosaic = False  # set by the trainer each epoch; the official recipe has no mosaic
        self._cache: dict[int, tuple[np.ndarray, float]] | None = {} if cache else None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.dataset.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def _frame(self, image_id: int) -> tuple[np.ndarray, float]:
        if self._cache is not None and image_id in self._cache:
            return self._cache[image_id]
        img, r = letterbox_image(read_image(self.dataset.frame(image_id).path), self.input_hw)
        if self._cache is not None:
            self._cache[image_id] = (img, r)
        return img, r

    def sample(self, idx: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(current image, previous image, next-frame boxes xyxy, rows of (label, weight))."""
        s = self.samples[idx]
        cur, r = self._frame(s.current)
        prev, _ = self._frame(s.previous)
        gt_next, gt_cur = self.dataset.ground_truth(s.next), self.dataset.ground_truth(s.current)
        weights = trend_weights(gt_next.boxes, gt_next.track_ids, gt_cur.boxes, gt_cur.track_ids, self.trend)
        boxes = gt_next.boxes.astype(np.float32) * r
        rows = np.stack([gt_next.labels.astype(np.float32), weights.astype(np.float32)], 1).reshape(-1, 2)
        if self.crop_hw is not None:
            # both frames through one window: the same draws on the stacked channels
            both, boxes, rows = random_crop(np.concatenate([cur, prev], axis=2), boxes, rows, rng,
                                            crop_hw=self.crop_hw, scale=self.crop_scale)
            cur, prev = both[..., :3], both[..., 3:]
        if rng.random() < self.flip_prob:  # one draw for the whole sample
            cur, boxes = hflip(cur, boxes)
            prev, _ = hflip(prev, np.zeros((0, 4), np.float32))
        keep = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) > 1.0
        return cur, prev, boxes[keep], rows[keep]

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, int(idx)))
        cur, prev, boxes, rows = self.sample(int(idx), rng)
        targets = np.full((self.max_labels, 6), -1.0, dtype=np.float32)
        n = min(len(boxes), self.max_labels)
        if n:
            targets[:n, 0] = rows[:n, 0]
            targets[:n, 1:5] = xyxy_to_cxcywh(boxes[:n])
            targets[:n, 5] = rows[:n, 1]
        images = np.concatenate([cur, prev], axis=2).transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(targets)
