"""Offline COCO AP of a detector on a COCO-format or Argoverse-HD split (pycocotools).

`python -m detector.eval --model CKPT_OR_ONNX --data ANNOTATION_JSON [--image-dir DIR]
[--input-size H W]` prints AP, AP50, AP75, APs/m/l and per-class AP and saves them as JSON.
During training, `evaluate_model` scores the in-memory (EMA) model the same way.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from data.coco import CocoDataset
from data.detections import Detections

STAT_NAMES = ("ap", "ap50", "ap75", "aps", "apm", "apl")


def coco_ap(dataset: CocoDataset, results: list[dict], image_ids: Sequence[int]) -> dict[str, Any]:
    """COCOeval bbox stats over `image_ids`, plus per-class AP (IoU .5:.95, maxDets 100)."""
    from pycocotools.cocoeval import COCOeval

    stats: dict[str, Any] = {"num_images": len(image_ids), "num_detections": len(results)}
    if not results:
        stats.update({k: 0.0 for k in STAT_NAMES})
        stats["per_class"] = {c: 0.0 for c in dataset.classes}
        return stats
    with contextlib.redirect_stdout(io.StringIO()):
        dt = dataset.coco.loadRes(results)
        ev = COCOeval(dataset.coco, dt, "bbox")
        ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats.update({k: float(max(v, 0.0)) for k, v in zip(STAT_NAMES, ev.stats[:6])})
    precision = ev.eval["precision"]  # (iou, recall, class, area, maxdets)
    per_class = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[dataset.classes[dataset.category_id_to_label(cat_id)]] = float(p.mean()) if p.size else float("nan")
    stats["per_class"] = per_class
    return stats


def run_detector(detect: Callable[[list[np.ndarray]], list[Detections]], dataset: CocoDataset, *,
                 batch_size: int = 8, max_images: int | None = None, desc: str = "eval") -> tuple[list[dict], list[int]]:
    """Run `detect` (frames -> Detections in original pixels) over the dataset; COCO results.
    A frame that cannot be read is skipped and counted (its ground truth stays, as a miss)."""
    n = len(dataset) if max_images is None else min(max_images, len(dataset))
    if max_images is not None and n < len(dataset):
        # An evenly spaced subset covers every sequence instead of only the first ones.
        indices = np.linspace(0, len(dataset) - 1, n).round().astype(int).tolist()
    else:
        indices = list(range(n))
    results: list[dict] = []
    skipped = 0
    for start in tqdm(range(0, len(indices), batch_size), desc=desc, leave=False):
        chunk = indices[start:start + batch_size]
        frames, ids = [], []
        for i in chunk:
            try:
                frames.append(dataset.load_image(i))
                ids.append(dataset.image_ids[i])
            except (OSError, ValueError):
                skipped += 1
        if not frames:
            continue
        for image_id, det in zip(ids, detect(frames)):
            results.extend(dataset.results(image_id, det))
    if skipped:
        print(f"warning: {skipped} unreadable image(s) skipped")
    return results, [dataset.image_ids[i] for i in indices]


def model_detector(model: torch.nn.Module, *, input_hw: tuple[int, int], conf_thresh: float, nms_thresh: float,
                   device: torch.device | str = "cpu") -> Callable[[list[np.ndarray]], list[Detections]]:
    """Frames -> Detections with an in-memory PyTorch model (eval mode, decoded output), using
    the inference helper's letterbox and post-processing."""
    from detector.postprocess import postprocess
    from detector.preprocess import preprocess_batch

    def detect(frames: list[np.ndarray]) -> list[Detections]:
        batch, ratios, sizes = preprocess_batch(frames, input_hw)
        with torch.no_grad():
            out = model(torch.from_numpy(batch).to(device))
        return postprocess(out, input_hw=tuple(input_hw), ratios=ratios, image_sizes=sizes, decoded=True,
                           conf_thresh=conf_thresh, nms_thresh=nms_thresh)

    return detect


def evaluate_model(model: torch.nn.Module, dataset: CocoDataset, *, input_hw: tuple[int, int],
                   conf_thresh: float = 0.01, nms_thresh: float = 0.65, batch_size: int = 8,
                   max_images: int | None = None, device: torch.device | str = "cpu") -> dict[str, Any]:
    was_training = model.training
    model.eval()
    head = getattr(model, "head", None)
    decode = getattr(head, "decode_in_inference", True)
    if head is not None:
        head.decode_in_inference = True
    try:
        detect = model_detector(model, input_hw=input_hw, conf_thresh=conf_thresh, nms_thresh=nms_thresh,
                                device=device)
        results, ids = run_detector(detect, dataset, batch_size=batch_size, max_images=max_images)
    finally:
        if head is not None:
            head.decode_in_inference = decode
        model.train(was_training)
    return coco_ap(dataset, results, ids)


def format_table(stats: dict[str, Any]) -> str:
    lines = ["  ".join(f"{k.upper():>6}" for k in STAT_NAMES),
             "  ".join(f"{100 * stats[k]:6.2f}" for k in STAT_NAMES), "", f"{'class':<16}{'AP':>8}"]
    for name, ap in stats.get("per_class", {}).items():
        lines.append(f"{name:<16}{'   n/a' if ap != ap else f'{100 * ap:8.2f}'}")
    return "\n".join(lines)


def checkpoint_detector(path: str, *, input_hw: tuple[int, int] | None, conf_thresh: float, nms_thresh: float,
                        num_classes: int, device: str = "cpu"
                        ) -> tuple[Callable[[list[np.ndarray]], list[Detections]], tuple[int, int]]:
    """A .pth checkpoint (official or ours; input size from its metadata or the zoo) or an
    exported model, through the inference API (detector.load_detector)."""
    from detector import load_detector

    det = load_detector(path, conf_thresh=conf_thresh, nms_thresh=nms_thresh, input_size=input_hw, device=device)
    if len(det.classes) != num_classes:
        raise ValueError(f"{path}: model has {len(det.classes)} classes but the dataset has {num_classes}")
    return det, tuple(det.input_size)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys
    from pathlib import Path

    p = argparse.ArgumentParser(prog="python -m detector.eval", description="Offline COCO AP of a detector.")
    p.add_argument("--model", required=True, help="checkpoint (.pth) or ONNX file")
    p.add_argument("--data", required=True, type=Path, help="COCO or Argoverse-HD annotation json")
    p.add_argument("--image-dir", type=Path, default=None,
                   help="folder the image names are relative to (default: the json's ../.. for "
                        "Argoverse-HD layouts, else its folder)")
    p.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None)
    p.add_argument("--conf", type=float, default=0.01)
    p.add_argument("--nms", type=float, default=0.65)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="results JSON (default runs/eval/<model>_<data>.json)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    image_dir = args.image_dir or _default_image_dir(args.data)
    try:
        dataset = CocoDataset(args.data, image_dir)
        detect, hw = checkpoint_detector(args.model, input_hw=tuple(args.input_size) if args.input_size else None,
                                         conf_thresh=args.conf, nms_thresh=args.nms,
                                         num_classes=len(dataset.classes), device=args.device)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results, ids = run_detector(detect, dataset, batch_size=args.batch_size, max_images=args.max_images)
    stats = coco_ap(dataset, results, ids)
    stats.update(model=str(args.model), data=str(args.data), input_size=list(hw), conf=args.conf, nms=args.nms)
    print(f"{args.model} on {args.data} ({stats['num_images']} images, input {hw[0]}x{hw[1]})")
    print(format_table(stats))
    out = args.out or Path("runs") / "eval" / f"{Path(args.model).stem}_{args.data.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stats, indent=2))
    print(f"saved {out}")
    return 0


def _default_image_dir(ann: "Path") -> "Path":
    """Argoverse-HD keeps annotations in ROOT/annotations/ with image folders relative to ROOT;
    a plain COCO file is taken to sit next to its images."""
    folder = ann.resolve().parent
    return folder.parent if folder.name == "annotations" else folder
