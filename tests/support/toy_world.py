"""A moving-box world in memory: ground truth plus noisy per-frame detections.

For tests and benchmarks of the streaming evaluation where images and a detector would only
cost time: objects move at constant velocity, so stale outputs score lower, as in a real
stream.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.boxes import clip_xyxy, xyxy_to_xywh
from data.classes import ARGOVERSE_HD_CLASSES, COCO_TO_ARGOVERSE_HD
from data.detections import Detections
from eval_streaming.evaluate import CocoGroundTruth


@dataclass
class ToySequence:
    name: str
    sid: int
    image_ids: list[int]
    boxes: list[np.ndarray]  # per frame (N, 4) xyxy
    labels: list[np.ndarray]  # per frame (N,)


@dataclass
class ToyWorld:
    ground_truth: CocoGroundTruth
    sequences: list[ToySequence]
    fps: float
    classes: tuple[str, ...]
    dataset: dict  # the annotation JSON content

    def write_annotations(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.dataset))
        return path


def toy_world(
    *,
    sequences: int = 2,
    frames: int = 30,
    objects: int = 5,
    size: tuple[int, int] = (1920, 1200),
    fps: float = 30.0,
    seed: int = 0,
    speed: float = 8.0,
) -> ToyWorld:
    """`objects` boxes per sequence moving up to `speed` px/frame, kept inside the image."""
    rng = np.random.default_rng(seed)
    width, height = size
    images, annotations, seqs = [], [], []
    image_id, ann_id = 1, 1
    for sid in range(sequences):
        wh = rng.uniform([40, 30], [300, 200], size=(objects, 2))
        start = rng.uniform([0, 0], [width - 300, height - 200], size=(objects, 2))
        velocity = rng.uniform(-speed, speed, size=(objects, 2))
        labels = rng.integers(0, len(ARGOVERSE_HD_CLASSES), size=objects)
        seq = ToySequence(f"seq{sid:03d}", sid, [], [], [])
        for fid in range(frames):
            xy = start + velocity * fid
            xy = np.abs(np.mod(xy, 2 * (np.array([width, height]) - wh)))  # bounce off edges
            xy = np.minimum(xy, 2 * (np.array([width, height]) - wh) - xy)
            boxes = clip_xyxy(np.concatenate([xy, xy + wh], axis=1), width, height)
            images.append({"id": image_id, "width": width, "height": height, "sid": sid, "fid": fid,
                           "name": f"{fid:06d}.jpg", "file_name": f"{fid:06d}.jpg"})
            for box, label in zip(xyxy_to_xywh(boxes.astype(np.float64)), labels):
                annotations.append({"id": ann_id, "image_id": image_id, "category_id": int(label),
                                    "bbox": [float(v) for v in box], "area": float(box[2] * box[3]),
                                    "iscrowd": 0})
                ann_id += 1
            seq.image_ids.append(image_id)
            seq.boxes.append(boxes)
            seq.labels.append(labels.astype(np.int64))
            image_id += 1
        seqs.append(seq)
    dataset = {  # Argoverse-HD layout, so the file form reads with the dataset reader too
        "sequences": [seq.name for seq in seqs],
        "seq_dirs": [f"val/{seq.name}" for seq in seqs],
        "coco_mapping": list(COCO_TO_ARGOVERSE_HD),
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for i, n in enumerate(ARGOVERSE_HD_CLASSES)],
    }
    return ToyWorld(CocoGroundTruth.from_dataset(dataset), seqs, fps, ARGOVERSE_HD_CLASSES, dataset)


def toy_detections(
    world: ToyWorld, *, seed: int = 0, box_noise: float = 3.0, miss_rate: float = 0.05,
    false_positives: int = 1,
) -> list[list[Detections]]:
    """Per sequence, per frame: jittered true boxes (some missed) plus random false positives."""
    rng = np.random.default_rng(seed)
    out = []
    for seq in world.sequences:
        per_frame = []
        for boxes, labels in zip(seq.boxes, seq.labels):
            keep = rng.random(len(boxes)) >= miss_rate
            b = boxes[keep] + rng.normal(0, box_noise, size=(int(keep.sum()), 4))
            s = rng.uniform(0.3, 1.0, size=len(b))
            fp_xy = rng.uniform(0, 1500, size=(false_positives, 2))
            fp = np.concatenate([fp_xy, fp_xy + rng.uniform(20, 200, size=(false_positives, 2))], axis=1)
            per_frame.append(Detections(
                np.concatenate([b, fp]).astype(np.float32),
                np.concatenate([s, rng.uniform(0.01, 0.5, size=false_positives)]),
                np.concatenate([labels[keep], rng.integers(0, len(world.classes), size=false_positives)]),
            ))
        out.append(per_frame)
    return out
