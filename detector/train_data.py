"""Training data: cached source images, the augmenting dataset, the sampler and the DataLoader.

Reproducibility: every random draw of a sample comes from a generator seeded with
(seed, epoch, index), and every epoch's order from (seed, epoch). Nothing depends on which
worker handles a sample or on state carried between iterations, so a run resumed in the middle
of an epoch sees exactly the batches an uninterrupted run would have seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from data.boxes import xyxy_to_cxcywh
from detector.augment import filter_small, hsv_jitter, mixup, random_crop, random_hflip
from detector.grid import STRIDES
from detector.mosaic import mosaic
from detector.preprocess import letterbox_image, letterbox_ratio


class ImageSource:
    """Images resized to fit `input_hw` (detector.preprocess.letterbox_ratio) with their boxes scaled alike.

    `dataset` follows data.coco.CocoDataset: len(), load_image(i) (BGR uint8),
    annotations(i) -> (boxes xyxy float32, labels int64). With `cache=True` every image is
    decoded once up front and kept in RAM (forked workers share it copy-on-write).
    """

    def __init__(self, dataset, input_hw: tuple[int, int], *, cache: bool = True, desc: str = "caching images") -> None:
        self.dataset = dataset
        self.input_hw = tuple(input_hw)
        self._cache: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        if cache:
            self._cache = [self._load(i) for i in tqdm(range(len(dataset)), desc=desc, leave=False)]

    def __len__(self) -> int:
        return len(self.dataset)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        img = self.dataset.load_image(i)
        boxes, labels = self.dataset.annotations(i)
        h, w = img.shape[:2]
        r = letterbox_ratio((h, w), self.input_hw)
        if r != 1.0:
            img = cv2.resize(img, (max(int(w * r), 1), max(int(h * r), 1)), interpolation=cv2.INTER_LINEAR)
        return img, np.asarray(boxes, np.float32).reshape(-1, 4) * r, np.asarray(labels, np.int64).reshape(-1)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._cache[i] if self._cache is not None else self._load(i)


@dataclass
class AugmentConfig:
    mosaic_prob: float = 1.0
    mixup_prob: float = 1.0
    hsv_prob: float = 1.0
    flip_prob: float = 0.5
    degrees: float = 10.0
    translate: float = 0.1
    shear: float = 2.0
    mosaic_scale: tuple[float, float] = (0.1, 2.0)
    mixup_scale: tuple[float, float] = (0.5, 1.5)
    enable_mixup: bool = True
    max_labels: int = 120
    # Train on random windows of this (H, W) cut from the input_size image (None: the whole
    # image). The network is fully convolutional, so it learns input_size's object scale at the
    # window's cost per step; evaluation and the saved model keep input_size.
    crop_size: tuple[int, int] | None = None
    crop_scale: tuple[float, float] = (1.0, 1.0)  # the image is first resized by a factor in this range


class YOLOXTrainDataset(Dataset):
    """Yields (image uint8 (3,H,W) BGR, targets float32 (max_labels, 5) of (label, cx, cy, w, h);
    label -1 marks padding). Set `.epoch` and `.enable_mosaic` before creating each epoch's
    iterator (workers are forked per epoch and take a copy)."""

    def __init__(self, source: ImageSource, aug: AugmentConfig, *, seed: int = 0) -> None:
        self.source = source
        self.aug = aug
        self.seed = seed
        self.epoch = 0
        self.enable_mosaic = True

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.source.input_hw

    def __len__(self) -> int:
        return len(self.source)

    def sample(self, idx: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = self.aug
        hw = self.input_hw
        if self.enable_mosaic and rng.random() < a.mosaic_prob:
            ids = [idx] + [int(j) for j in rng.integers(0, len(self.source), 3)]
            parts = [self.source[j] for j in ids]
            img, boxes, labels = mosaic([p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts],
                                        hw, rng, scale=a.mosaic_scale, degrees=a.degrees,
                                        translate=a.translate, shear=a.shear)
            if a.enable_mixup and len(boxes) and rng.random() < a.mixup_prob:
                other, ob, ol = self.source[int(rng.integers(0, len(self.source)))]
                img, boxes, labels = mixup(img, boxes, labels, other, ob, ol, rng, scale=a.mixup_scale)
        else:
            src, boxes, labels = self.source[idx]
            img, r = letterbox_image(src, hw)
            boxes = boxes * r
        if a.crop_size is not None:
            img, boxes, labels = random_crop(img, boxes, labels, rng, crop_hw=a.crop_size, scale=a.crop_scale)
        if rng.random() < a.hsv_prob:
            img = hsv_jitter(img, rng)
        img, boxes = random_hflip(img, boxes, rng, a.flip_prob)
        boxes, labels = filter_small(boxes.astype(np.float32), labels)
        return img, boxes, labels

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, int(idx)))
        img, boxes, labels = self.sample(int(idx), rng)
        targets = np.full((self.aug.max_labels, 5), -1.0, dtype=np.float32)
        n = min(len(boxes), self.aug.max_labels)
        if n:
            targets[:n, 0] = labels[:n]
            targets[:n, 1:] = xyxy_to_cxcywh(boxes[:n])
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), torch.from_numpy(targets)


class EpochSampler(Sampler[int]):
    """A permutation seeded by (seed, epoch), sharded over `world` ranks, starting after
    `skip` samples of this rank (used to resume mid-epoch). Drops the ragged tail so every rank
    gets the same number of samples."""

    def __init__(self, n: int, *, seed: int, epoch: int, rank: int = 0, world: int = 1, skip: int = 0,
                 shuffle: bool = True) -> None:
        self.n, self.seed, self.epoch, self.rank, self.world, self.skip = n, seed, epoch, rank, world, skip
        self.shuffle = shuffle

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        per_rank = self.n // self.world
        return order[self.rank:per_rank * self.world:self.world][self.skip:]

    def __iter__(self):
        return iter(self.indices())

    def __len__(self) -> int:
        return max(self.n // self.world - self.skip, 0)


def make_loader(dataset: YOLOXTrainDataset, *, batch_size: int, epoch: int, seed: int, num_workers: int,
                skip_batches: int = 0, rank: int = 0, world: int = 1) -> DataLoader:
    """The loader of one epoch (drop_last so every step sees a full batch)."""
    dataset.epoch = epoch
    sampler = EpochSampler(len(dataset), seed=seed, epoch=epoch, rank=rank, world=world,
                           skip=skip_batches * batch_size)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, drop_last=True,
                      pin_memory=torch.cuda.is_available(), worker_init_fn=_seed_worker,
                      generator=torch.Generator().manual_seed(seed * 1009 + epoch),
                      persistent_workers=False)


def _seed_worker(worker_id: int) -> None:
    """Seed the global numpy/python RNGs of a worker from torch's per-worker seed, for any
    third-party code that uses them (our own augmentations use explicit generators)."""
    import random

    s = torch.initial_seed() % 2 ** 32
    np.random.seed(s)
    random.seed(s)
    cv2.setNumThreads(1)


def iters_per_epoch(n_images: int, batch_size: int, world: int = 1) -> int:
    return max((n_images // world) // batch_size, 1)


def random_input_size(base_hw: tuple[int, int], step: int, *, seed: int, multiscale_range: int) -> tuple[int, int]:
    """Multi-scale training size for global step `step`: a multiple of the largest stride (32)
    within +- `multiscale_range` x 32 of the base height, width keeping the base aspect ratio."""
    if multiscale_range <= 0:
        return tuple(base_hw)
    rng = np.random.default_rng((seed, 7919, step))
    unit = max(STRIDES)
    base = base_hw[0] // unit
    f = int(rng.integers(max(base - multiscale_range, 1), base + multiscale_range + 1))
    aspect = base_hw[1] / base_hw[0]
    return unit * f, unit * max(int(round(f * aspect)), 1)
