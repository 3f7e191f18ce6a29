"""Training augmentations of the YOLOX recipe, on BGR uint8 images and xyxy pixel boxes.

Every function takes an explicit `rng: np.random.Generator`, so a dataloader worker seeded once
gives reproducible batches. Boxes are (N, 4) float32 xyxy, labels (N,) int64; functions return
new arrays and never modify their inputs.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from data.boxes import clip_xyxy
from detector.preprocess import PAD_VALUE, letterbox_image


def hsv_jitter(img: np.ndarray, rng: np.random.Generator, *, hgain: float = 5.0, sgain: float = 30.0,
               vgain: float = 30.0) -> np.ndarray:
    """Additive hue/saturation/value shifts; each channel shifted with probability 1/2."""
    gains = rng.uniform(-1.0, 1.0, 3) * np.array([hgain, sgain, vgain]) * rng.integers(0, 2, 3)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(gains[0])) % 180  # OpenCV hue lives in 0..179
    hsv[..., 1] = np.clip(hsv[..., 1] + int(gains[1]), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + int(gains[2]), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def hflip(img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right; a pixel column x maps to w - 1 - x, so a box edge x maps to w - x."""
    w = img.shape[1]
    out = boxes.copy()
    out[:, [0, 2]] = w - boxes[:, [2, 0]]
    return np.ascontiguousarray(img[:, ::-1]), out


def random_hflip(img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator,
                 prob: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    if rng.random() < prob:
        return hflip(img, boxes)
    return img, boxes


def affine_matrix(rng: np.random.Generator, *, out_hw: tuple[int, int], degrees: float, translate: float,
                  scale: tuple[float, float], shear: float, center_xy: tuple[float, float]) -> tuple[np.ndarray, float]:
    """A 2x3 matrix: move `center_xy` to the origin, rotate+scale, shear, then translate to the
    output centre plus a random offset of up to `translate` x the output size."""
    angle = rng.uniform(-degrees, degrees)
    s = rng.uniform(scale[0], scale[1])
    rot = np.eye(3)
    rot[:2] = cv2.getRotationMatrix2D((0.0, 0.0), angle, s)
    sh = np.eye(3)
    sh[0, 1] = math.tan(math.radians(rng.uniform(-shear, shear)))
    sh[1, 0] = math.tan(math.radians(rng.uniform(-shear, shear)))
    to_origin = np.eye(3)
    to_origin[:2, 2] = -np.asarray(center_xy, dtype=np.float64)
    move = np.eye(3)
    move[0, 2] = out_hw[1] / 2 + rng.uniform(-translate, translate) * out_hw[1]
    move[1, 2] = out_hw[0] / 2 + rng.uniform(-translate, translate) * out_hw[0]
    m = move @ sh @ rot @ to_origin
    return m[:2], s


def transform_boxes(boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to the four corners of each box and take the enclosing box."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4).astype(np.float32)
    x1, y1, x2, y2 = boxes.T
    corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x1, y2], 1),
                        np.stack([x2, y2], 1)], 1)  # (N, 4, 2)
    pts = corners @ m[:, :2].T + m[:, 2]
    return np.concatenate([pts.min(1), pts.max(1)], axis=1).astype(np.float32)


def box_candidates(before: np.ndarray, after: np.ndarray, *, wh_thr: float = 2.0, ar_thr: float = 20.0,
                   area_thr: float = 0.1) -> np.ndarray:
    """Keep boxes that stay at least `wh_thr` px in each side, keep `area_thr` of their
    (scaled) area after clipping, and are not thinner than 1:`ar_thr`. `before` must already
    be in output scale (e.g. transformed but not clipped)."""
    w1, h1 = before[:, 2] - before[:, 0], before[:, 3] - before[:, 1]
    w2, h2 = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    ar = np.maximum(w2 / (h2 + 1e-16), h2 / (w2 + 1e-16))
    return (w2 > wh_thr) & (h2 > wh_thr) & (w2 * h2 / (w1 * h1 + 1e-16) > area_thr) & (ar < ar_thr)


def warp_boxes(boxes: np.ndarray, labels: np.ndarray, m: np.ndarray, out_hw: tuple[int, int],
               **filter_kw: float) -> tuple[np.ndarray, np.ndarray]:
    """Transform, clip to the output and drop boxes that mostly left the image."""
    moved = transform_boxes(boxes, m)
    clipped = clip_xyxy(moved, out_hw[1], out_hw[0])
    keep = box_candidates(moved, clipped, **filter_kw) if len(moved) else np.zeros(0, bool)
    return clipped[keep], labels[keep]


def random_affine(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *,
                  out_hw: tuple[int, int], center_xy: tuple[float, float] | None = None, degrees: float = 10.0,
                  translate: float = 0.1, scale: tuple[float, float] = (0.1, 2.0), shear: float = 2.0,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate/scale/shear/translate about `center_xy` (default: image centre) into `out_hw`."""
    if center_xy is None:
        center_xy = (img.shape[1] / 2, img.shape[0] / 2)
    m, _ = affine_matrix(rng, out_hw=out_hw, degrees=degrees, translate=translate, scale=scale, shear=shear,
                         center_xy=center_xy)
    out = cv2.warpAffine(img, m, dsize=(out_hw[1], out_hw[0]), flags=cv2.INTER_LINEAR,
                         borderValue=(PAD_VALUE,) * 3)
    b, lab = warp_boxes(boxes, labels, m, out_hw)
    return out, b, lab


def mixup(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray, other: np.ndarray, other_boxes: np.ndarray,
          other_labels: np.ndarray, rng: np.random.Generator, *, scale: tuple[float, float] = (0.5, 1.5),
          flip_prob: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend 50/50 with `other`, which is letterboxed to this size, scale-jittered, maybe
    flipped, and randomly cropped back to this size."""
    h, w = img.shape[:2]
    jitter = rng.uniform(scale[0], scale[1])
    base, r = letterbox_image(other, (h, w))
    jh, jw = max(int(h * jitter), 1), max(int(w * jitter), 1)
    big = cv2.resize(base, (jw, jh), interpolation=cv2.INTER_LINEAR)
    ob = other_boxes * r * np.array([jw / w, jh / h, jw / w, jh / h], dtype=np.float32)
    if rng.random() < flip_prob:
        big, ob = hflip(big, ob)
    crop, cb, cl = random_crop(big, ob, other_labels, rng, crop_hw=(h, w))
    blended = (0.5 * img.astype(np.float32) + 0.5 * crop.astype(np.float32)).astype(np.uint8)
    return (blended, np.concatenate([boxes, cb]).astype(np.float32),
            np.concatenate([labels, cl]).astype(np.int64))


def random_crop(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *,
                crop_hw: tuple[int, int], scale: tuple[float, float] = (1.0, 1.0),
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A window of `crop_hw` at a uniformly random place. At scale 1 nothing is resampled, so the
    detector learns the object sizes of the full image at the cost of the window; a scale range
    first resizes the image by a random factor, so that objects larger than the window are also
    seen whole. An image smaller than the window is padded right and below, as letterboxing
    does. Boxes are clipped to the window and those mostly cut off are dropped (the mosaic's rule)."""
    boxes = boxes.reshape(-1, 4).astype(np.float32)
    if scale != (1.0, 1.0):  # no draw at the default, so fixed-scale runs keep their samples
        s = float(rng.uniform(scale[0], scale[1]))
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(int(round(w * s)), 1), max(int(round(h * s)), 1)),
                         interpolation=cv2.INTER_LINEAR)
        boxes = boxes * np.array([img.shape[1] / w, img.shape[0] / h] * 2, dtype=np.float32)
    ch, cw = crop_hw
    h, w = img.shape[:2]
    if ch > h or cw > w:
        padded = np.full((max(h, ch), max(w, cw), *img.shape[2:]), PAD_VALUE, dtype=img.dtype)
        padded[:h, :w] = img
        img, h, w = padded, max(h, ch), max(w, cw)
    oy = int(rng.integers(0, h - ch + 1))
    ox = int(rng.integers(0, w - cw + 1))
    shifted = boxes - np.array([ox, oy, ox, oy], dtype=np.float32)
    clipped = clip_xyxy(shifted, cw, ch)
    keep = box_candidates(shifted, clipped) if len(shifted) else np.zeros(0, bool)
    return np.ascontiguousarray(img[oy:oy + ch, ox:ox + cw]), clipped[keep], labels[keep]


def filter_small(boxes: np.ndarray, labels: np.ndarray, min_size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    keep = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) > min_size
    return boxes[keep], labels[keep]
