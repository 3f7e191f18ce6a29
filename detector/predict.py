"""`python -m detector.predict`: run a detector on an image, a folder of images or a video.

    python -m detector.predict --model yolox_s.onnx --source street.jpg --save runs/predict
    python -m detector.predict --model yolox_nano --source clip.mp4 --save runs/predict --conf 0.4

Writes annotated copies (boxes, class name and score) into --save: images keep their file names,
a video becomes `<stem>.mp4`. `--json` also writes every frame's Detections to detections.json.
Unreadable images in a folder and undecodable video frames are skipped, counted and reported.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from data.cli import check_output_dir, run_command
from data.detections import Detections
from data.video import IMAGE_SUFFIXES, ImageFolderSource, VideoSource, VideoWriter
from detector.draw import draw_detections


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p video needs even sides: pad odd ones by one black pixel."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return cv2.copyMakeBorder(frame, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def predict_images(detector, files: list[Path], save: Path, *, batch: int = 1,  # noqa: ANN001
                   strict: bool = False) -> tuple[dict[str, Detections], int]:
    """Annotate image files into `save`; returns ({file name: detections}, number skipped)."""
    from tqdm import tqdm

    results: dict[str, Detections] = {}
    skipped = 0
    with tqdm(total=len(files), unit="img", desc="predict", disable=len(files) < 2) as bar:
        for start in range(0, len(files), batch):
            names, frames = [], []
            for path in files[start:start + batch]:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    if strict:
                        raise ValueError(f"{path}: not a readable image")
                    skipped += 1
                    continue
                names.append(path)
                frames.append(image)
            if frames:
                for path, image, dets in zip(names, frames, detector(frames)):
                    cv2.imwrite(str(save / path.name), draw_detections(image, dets, detector.classes))
                    results[path.name] = dets
            bar.update(len(files[start:start + batch]))
    return results, skipped


def predict_video(detector, path: Path, save: Path) -> tuple[dict[str, Detections], int, Path]:  # noqa: ANN001
    from tqdm import tqdm

    source = VideoSource(path)
    out_path = save / f"{path.stem}.mp4"
    results: dict[str, Detections] = {}
    writer = None
    try:
        for i, (t, frame) in enumerate(tqdm(source, total=source.frame_count or None, unit="frame", desc="predict")):
            dets = detector([frame])[0]
            annotated = _even(draw_detections(frame, dets, detector.classes))
            if writer is None:
                writer = VideoWriter(out_path, source.fps, (annotated.shape[1], annotated.shape[0]))
            writer.write(annotated)
            results[f"{i:06d}@{t:.3f}s"] = dets
    finally:
        if writer is not None:
            writer.close()
    return results, source.skipped, out_path


def main(argv: Sequence[str] | None = None) -> None:
    """The command; bad input raises ValueError / OSError (exit 2 under run_command)."""
    from detector.api import DEMO_CONF_THRESH, DEMO_NMS_THRESH, load_detector

    ap = argparse.ArgumentParser(description="Draw YOLOX detections on images or a video.")
    ap.add_argument("--model", required=True, help=".pth / .onnx / .xml / .engine file or a zoo name")
    ap.add_argument("--source", required=True, type=Path, help="an image, a folder of images or a video")
    ap.add_argument("--save", required=True, type=Path, help="output folder")
    ap.add_argument("--conf", type=float, default=DEMO_CONF_THRESH)
    ap.add_argument("--nms", type=float, default=DEMO_NMS_THRESH)
    ap.add_argument("--max-det", type=int, default=300)
    ap.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", choices=("auto", "torch", "onnx", "openvino", "tensorrt"), default="auto",
                    help="auto: a .pth on a CPU runs through OpenVINO, exported once and cached (detector.ov_cache)")
    ap.add_argument("--precision", choices=("f32", "bf16", "int8"), default=None, help="OpenVINO compute precision")
    ap.add_argument("--batch", type=int, default=1, help="images per detector call")
    ap.add_argument("--classes", type=Path, default=None, help="JSON list of class names")
    ap.add_argument("--legacy", action="store_true", default=None, help="normalised-RGB (YOLOX 0.1.0) weights")
    ap.add_argument("--json", action="store_true", help="also write detections.json")
    args = ap.parse_args(argv)

    check_output_dir(args.save, "--save")  # before the model loads: a typo fails at once
    names = json.loads(args.classes.read_text()) if args.classes else None
    detector = load_detector(args.model, conf_thresh=args.conf, nms_thresh=args.nms, max_det=args.max_det,
                             input_size=args.input_size, device=args.device, legacy=args.legacy,
                             class_names=names, backend=args.backend, precision=args.precision)
    args.save.mkdir(parents=True, exist_ok=True)
    src = args.source
    if src.is_dir():
        files = ImageFolderSource(src).files
        results, skipped = predict_images(detector, files, args.save, batch=args.batch)
        written = f"{len(results)} annotated images in {args.save}"
    elif src.is_file() and src.suffix.lower() in IMAGE_SUFFIXES:
        results, skipped = predict_images(detector, [src], args.save, strict=True)
        written = str(args.save / src.name)
    elif src.is_file():
        results, skipped, out_path = predict_video(detector, src, args.save)
        written = f"{out_path} ({len(results)} frames)"
    else:
        raise FileNotFoundError(f"{src}: no such image, folder or video")
    if args.json:
        payload = {"model": detector.name, "classes": list(detector.classes),
                   "frames": {k: v.to_dict() for k, v in results.items()}}
        (args.save / "detections.json").write_text(json.dumps(payload))
    total = sum(len(d) for d in results.values())
    note = f", {skipped} unreadable skipped" if skipped else ""
    print(f"{detector!r}: {total} detections; wrote {written}{note}")


if __name__ == "__main__":
    sys.exit(run_command(main))
