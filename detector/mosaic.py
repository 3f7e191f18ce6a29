"""Four-image mosaic followed by a random affine crop to the training size (YOLOX recipe)."""
from __future__ import annotations

import numpy as np

from data.boxes import clip_xyxy
from detector.augment import random_affine
from detector.preprocess import PAD_VALUE


def mosaic_canvas(images: list[np.ndarray], boxes: list[np.ndarray], labels: list[np.ndarray],
                  out_hw: tuple[int, int], center_xy: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tile four images around `center_xy` on a (2H, 2W) canvas: top-left, top-right,
    bottom-left, bottom-right. Each image keeps the corner that touches the centre."""
    if len(images) != 4:
        raise ValueError(f"mosaic needs 4 images, got {len(images)}")
    hh, ww = 2 * out_hw[0], 2 * out_hw[1]
    xc, yc = center_xy
    canvas = np.full((hh, ww, 3), PAD_VALUE, dtype=np.uint8)
    all_boxes, all_labels = [], []
    for k, (img, b, lab) in enumerate(zip(images, boxes, labels)):
        h, w = img.shape[:2]
        if k == 0:
            x1a, y1a, x2a, y2a = max(xc - w, 0), max(yc - h, 0), xc, yc
            x1b, y1b = w - (x2a - x1a), h - (y2a - y1a)
        elif k == 1:
            x1a, y1a, x2a, y2a = xc, max(yc - h, 0), min(xc + w, ww), yc
            x1b, y1b = 0, h - (y2a - y1a)
        elif k == 2:
            x1a, y1a, x2a, y2a = max(xc - w, 0), yc, xc, min(yc + h, hh)
            x1b, y1b = w - (x2a - x1a), 0
        else:
            x1a, y1a, x2a, y2a = xc, yc, min(xc + w, ww), min(yc + h, hh)
            x1b, y1b = 0, 0
        cw, ch = x2a - x1a, y2a - y1a
        if cw <= 0 or ch <= 0:
            continue
        canvas[y1a:y2a, x1a:x2a] = img[y1b:y1b + ch, x1b:x1b + cw]
        if len(b):
            shift = np.array([x1a - x1b, y1a - y1b, x1a - x1b, y1a - y1b], dtype=np.float32)
            # The cropped-away parts of each tile lie outside the canvas, so clipping to the
            # canvas is the same as clipping to the tile.
            moved = b + shift
            all_boxes.append(moved)
            all_labels.append(lab)
    if all_boxes:
        cat_boxes = clip_xyxy(np.concatenate(all_boxes), ww, hh)
        cat_labels = np.concatenate(all_labels).astype(np.int64)
    else:
        cat_boxes, cat_labels = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    return canvas, cat_boxes, cat_labels


def mosaic(images: list[np.ndarray], boxes: list[np.ndarray], labels: list[np.ndarray],
           out_hw: tuple[int, int], rng: np.random.Generator, *, scale: tuple[float, float] = (0.1, 2.0),
           degrees: float = 10.0, translate: float = 0.1, shear: float = 2.0,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mosaic with a random centre in the middle half of the canvas, then a random affine
    (about that centre) back to `out_hw`. Images should already be resized to fit `out_hw`."""
    xc = int(rng.uniform(0.5 * out_hw[1], 1.5 * out_hw[1]))
    yc = int(rng.uniform(0.5 * out_hw[0], 1.5 * out_hw[0]))
    canvas, b, lab = mosaic_canvas(images, boxes, labels, out_hw, (xc, yc))
    return random_affine(canvas, b, lab, rng, out_hw=out_hw, center_xy=(xc, yc), degrees=degrees,
                         translate=translate, scale=scale, shear=shear)
