"""A tiny COCO dataset of coloured rectangles for the training tests (generated into tmp_path)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

TOY_CLASSES = ("red", "green", "blue")
TOY_COLOURS = ((40, 40, 220), (40, 200, 40), (220, 60, 40))  # BGR


def make_toy_coco(root: Path, *, n_images: int = 16, size: tuple[int, int] = (160, 128), seed: int = 0,
                  max_objects: int = 4, empty_every: int = 0) -> tuple[Path, Path]:
    """Write root/images/*.png and root/instances.json; returns (annotation file, image dir).
    Every `empty_every`-th image (if > 0) has no objects."""
    rng = np.random.default_rng(seed)
    w, h = size
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(n_images):
        img = np.full((h, w, 3), 90, np.uint8)
        img += rng.integers(0, 30, (h, w, 1), dtype=np.uint8)
        n_obj = 0 if (empty_every and i % empty_every == 0) else int(rng.integers(1, max_objects + 1))
        for _ in range(n_obj):
            bw, bh = int(rng.integers(w // 8, w // 2)), int(rng.integers(h // 8, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            c = int(rng.integers(0, len(TOY_CLASSES)))
            cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), TOY_COLOURS[c], -1)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1, "bbox": [x, y, bw, bh],
                         "area": bw * bh, "iscrowd": 0})
        name = f"{i:05d}.png"
        cv2.imwrite(str(img_dir / name), img)
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
    cats = [{"id": k + 1, "name": n} for k, n in enumerate(TOY_CLASSES)]
    ann_file = root / "instances.json"
    ann_file.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return ann_file, img_dir
