"""Offline COCO AP of a detector on a COCO-format or Argoverse-HD split (data.coco_eval).

`python -m detector.eval --model CKPT_OR_ONNX --data ANNOTATION_JSON [--image-dir DIR]
[--input-size H W] [--backend auto|torch|onnx|openvino] [--precision f32|bf16|int8]` prints AP,
AP50, AP75, APs/m/l and per-class AP (percent; "-" where undefined) and saves them as JSON
(undefined AP is null). A learned forecaster (StreamYOLO: a stateful detector that predicts the
next frame) is run sequence by sequence in frame order, one frame at a time from a fresh buffer,
and its output at frame k is scored against frame k + 1's ground truth ("next-frame AP", the
StreamYOLO paper's offline protocol); each sequence's first frame, which nothing predicts, is not
scored. A checkpoint run at reduced precision is also scored in torch f32 on the
same images and the AP change is printed and saved (`--reference none` skips it). During training, `evaluate_model`
scores the in-memory (EMA) model the same way.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from data.cli import run_command
from data.coco import CocoDataset
from data.coco_eval import CocoMetrics, evaluate, metrics_table, results_array
from data.layout import image_root_for
from data.detections import Detections
from detector.runner import is_stateful, reset_stream


def run_detector(detect: Callable[[list[np.ndarray]], list[Detections]], dataset: CocoDataset, *,
                 batch_size: int = 8, max_images: int | None = None, desc: str = "eval") -> CocoMetrics:
    """Run `detect` (frames -> Detections in original pixels) over the dataset and score it.

    A frame that cannot be read is skipped and counted (its ground truth stays, as a miss); when
    none can be read the run is an error, not an all-zero table. A stateful detector is scored
    on the next frame (`run_forecaster`)."""
    if is_stateful(detect):
        return run_forecaster(detect, dataset, max_images=max_images, desc=desc)
    n = len(dataset) if max_images is None else min(max_images, len(dataset))
    if max_images is not None and n < len(dataset):
        # An evenly spaced subset covers every sequence instead of only the first ones.
        indices = np.linspace(0, len(dataset) - 1, n).round().astype(int).tolist()
    else:
        indices = list(range(n))
    ids, predictions = [], []
    skipped: list[Exception] = []
    for start in tqdm(range(0, len(indices), batch_size), desc=desc, leave=False):
        frames, chunk_ids = [], []
        for i in indices[start:start + batch_size]:
            try:
                frames.append(dataset.load_image(i))
                chunk_ids.append(dataset.image_ids[i])
            except (OSError, ValueError) as e:
                skipped.append(e)
        if frames:
            ids += chunk_ids
            predictions += detect(frames)
    _check_read(dataset, len(indices), skipped)
    rows = results_array(ids, predictions, dataset.category_ids)
    return evaluate(dataset.coco, [dataset.image_ids[i] for i in indices], rows,
                    category_ids=dataset.category_ids, class_names=dataset.classes)


def _check_read(dataset: CocoDataset, attempted: int, skipped: list[Exception]) -> None:
    if attempted and len(skipped) == attempted:
        raise ValueError(f"{dataset.annotation_file}: none of its {attempted} images could be read from "
                         f"{dataset.image_dir} (first: {skipped[0]}); is --image-dir right?")
    if skipped:
        print(f"warning: {len(skipped)} unreadable image(s) skipped")


def sequence_order(dataset: CocoDataset) -> list[list[int]]:
    """Dataset indices grouped by sequence (`sid`) in frame order (`fid`); an error for a file
    without them (a forecaster needs consecutive frames)."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for index in range(len(dataset)):
        info = dataset.image_info(index)
        if "sid" not in info or "fid" not in info:
            raise ValueError(f"{dataset.annotation_file}: image {info['id']} has no sid/fid; a learned "
                             "forecaster (StreamYOLO) is evaluated on sequences (Argoverse-HD layout)")
        groups.setdefault(int(info["sid"]), []).append((int(info["fid"]), index))
    return [[index for _, index in sorted(frames)] for _, frames in sorted(groups.items())]


def run_forecaster(detect: Callable[[list[np.ndarray]], list[Detections]], dataset: CocoDataset, *,
                   max_images: int | None = None, desc: str = "eval") -> CocoMetrics:
    """Next-frame AP of a stateful detector: whole sequences (the first ones up to `max_images`
    frames), each from a fresh buffer, one frame per call; the output at frame k is scored
    against frame k + 1. An unreadable frame is skipped and is simply not in the buffer, as in a
    stream; the frame it would have predicted keeps its ground truth, as a miss."""
    sequences = sequence_order(dataset)
    if max_images is not None:
        kept, total = [], 0
        for seq in sequences:
            if kept and total + len(seq) > max_images:
                break
            kept.append(seq)
            total += len(seq)
        sequences = kept
    ids, predictions, scored = [], [], []
    skipped: list[Exception] = []
    with tqdm(total=sum(map(len, sequences)), desc=desc, leave=False) as bar:
        for seq in sequences:
            reset_stream(detect)
            scored += [dataset.image_ids[i] for i in seq[1:]]
            for k, index in enumerate(seq):
                bar.update()
                try:
                    frame = dataset.load_image(index)
                except (OSError, ValueError) as e:
                    skipped.append(e)
                    continue
                out = detect([frame])[0]
                if k + 1 < len(seq):
                    ids.append(dataset.image_ids[seq[k + 1]])
                    predictions.append(out)
    _check_read(dataset, sum(map(len, sequences)), skipped)
    rows = results_array(ids, predictions, dataset.category_ids)
    return evaluate(dataset.coco, scored, rows, category_ids=dataset.category_ids, class_names=dataset.classes)


def evaluate_model(model: torch.nn.Module, dataset: CocoDataset, *, input_hw: tuple[int, int],
                   conf_thresh: float = 0.01, nms_thresh: float = 0.65, batch_size: int = 8,
                   max_images: int | None = None, device: torch.device | str = "cpu") -> CocoMetrics:
    """COCO metrics of an in-memory model (e.g. the trainer's EMA model); its train/eval mode and
    head decoding flag are restored afterwards."""
    from detector.api import detector_from_model

    was_training = model.training
    head = getattr(model, "head", None)
    decode = getattr(head, "decode_in_inference", True)
    try:
        detect = detector_from_model(model, input_size=input_hw, device=str(device), conf_thresh=conf_thresh,
                                     nms_thresh=nms_thresh)
        return run_detector(detect, dataset, batch_size=batch_size, max_images=max_images)
    finally:
        if head is not None:
            head.decode_in_inference = decode
        model.train(was_training)


def checkpoint_detector(path: str, *, input_hw: tuple[int, int] | None, conf_thresh: float, nms_thresh: float,
                        num_classes: int, device: str = "cpu", backend: str | None = None,
                        precision: str | None = None):
    """A .pth checkpoint (official or ours; input size from its metadata or the zoo) or an
    exported model, through the inference API (detector.load_detector); returns the Detector and
    its input size."""
    from detector import load_detector

    det = load_detector(path, conf_thresh=conf_thresh, nms_thresh=nms_thresh, input_size=input_hw, device=device,
                        backend=backend, precision=precision)
    if len(det.classes) != num_classes:
        raise ValueError(f"{path}: model has {len(det.classes)} classes but the dataset has {num_classes}")
    return det, tuple(det.input_size)


def ap_delta(metrics: CocoMetrics, reference: CocoMetrics | None) -> float | None:
    """AP (percent points) of `metrics` minus the f32 reference's; None without a defined pair."""
    if reference is None or metrics.AP is None or reference.AP is None:
        return None
    return round(metrics.AP - reference.AP, 4)


def main(argv: list[str] | None = None) -> int:
    """Bad input raises (ValueError / FileNotFoundError); `run_command` turns it into exit 2."""
    import argparse
    import json
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
    p.add_argument("--backend", default=None, choices=["auto", "torch", "onnx", "openvino", "tensorrt"],
                   help="default: the file's own runtime (torch for a .pth)")
    p.add_argument("--precision", default=None, choices=["f32", "bf16", "int8"], help="OpenVINO precision")
    p.add_argument("--reference", default="auto", choices=["auto", "none"],
                   help="auto: a checkpoint run at reduced precision (bf16, int8) is also scored in torch f32 "
                        "on the same images, and the AP change is reported")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="results JSON (default runs/eval/<model>_<data>.json)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    image_dir = args.image_dir or image_root_for(args.data)  # the official Argoverse-HD layout too
    dataset = CocoDataset(args.data, image_dir)
    input_hw = tuple(args.input_size) if args.input_size else None
    detect, hw = checkpoint_detector(args.model, input_hw=input_hw, conf_thresh=args.conf, nms_thresh=args.nms,
                                     num_classes=len(dataset.classes), device=args.device, backend=args.backend,
                                     precision=args.precision)
    kind, precision = detect.backend.kind, detect.backend.precision or "f32"
    metrics = run_detector(detect, dataset, batch_size=args.batch_size, max_images=args.max_images)
    name = f"{Path(args.model).name} ({kind}, {precision})"
    results = {name: metrics}
    reference = None
    if args.reference == "auto" and precision != "f32" and Path(args.model).suffix in (".pth", ".pt", ".tar", ""):
        # Reduced precision is a measured trade: the same checkpoint in f32 on the same images.
        ref, _ = checkpoint_detector(args.model, input_hw=hw, conf_thresh=args.conf, nms_thresh=args.nms,
                                     num_classes=len(dataset.classes), device=args.device, backend="torch")
        reference = run_detector(ref, dataset, batch_size=args.batch_size, max_images=args.max_images,
                                 desc="eval f32")
        results[f"{Path(args.model).name} (torch, f32)"] = reference
    target = "next frame" if is_stateful(detect) else "same frame"
    print(f"{args.model} on {args.data} ({metrics.num_images} images, input {hw[0]}x{hw[1]}"
          + (", scored against the next frame's ground truth)" if target == "next frame" else ")"))
    print(metrics_table(results))
    delta = ap_delta(metrics, reference)
    if delta is not None:
        print(f"\nAP change of {precision} against f32: {delta:+.2f}")
    out = args.out or Path("runs") / "eval" / f"{Path(args.model).stem}_{args.data.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {**metrics.to_dict(), "model": str(args.model), "data": str(args.data), "input_size": list(hw),
              "conf": args.conf, "nms": args.nms, "backend": kind, "precision": precision, "target": target,
              "reference_f32": reference.to_dict() if reference is not None else None, "ap_delta_vs_f32": delta}
    out.write_text(json.dumps(record, indent=2, allow_nan=False))
    print(f"saved {out}")
    return 0
