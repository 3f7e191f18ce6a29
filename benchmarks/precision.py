"""OpenVINO precision vs accuracy and speed: f32 / bf16 / INT8 of one model, AP on held-out frames.

    python benchmarks/precision.py --model detector/weights/yolox_demo.pth --data datasets/world7 \\
        --calibration synthetic --max-images 240

Exports the model once to ONNX, then to one OpenVINO IR per precision (INT8: NNCF on the
--calibration frames, which must not be the evaluated ones), and prints offline COCO AP on the
--data split (detector.evaluate.run_detector, data.coco_eval), the AP change against f32, and the
median network latency of each (batch 1, --threads). This is the measurement behind
detector.quantize.DEFAULT_OPENVINO_PRECISION: the fastest precision within 0.5 AP of f32.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.latency import median_ms


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="detector/weights/yolox_demo.pth")
    ap.add_argument("--data", required=True, type=Path, help="a dataset root with annotations/SPLIT.json")
    ap.add_argument("--split", default="val")
    ap.add_argument("--annotations", default=None, help="annotation JSON (default DATA/annotations/SPLIT.json)")
    ap.add_argument("--calibration", default="synthetic", help="folder of images, video or 'synthetic'")
    ap.add_argument("--calibration-frames", type=int, default=128)
    ap.add_argument("--max-images", type=int, default=240)
    ap.add_argument("--input-size", type=int, nargs=2, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args(argv)

    import torch

    from data.coco import CocoDataset
    from data.layout import find_dataset
    from detector.api import Detector
    from detector.backends.openvino_backend import OpenVinoBackend
    from detector.evaluate import run_detector
    from detector.export import export_onnx, export_openvino, load_for_export
    from detector.postprocess import EVAL_CONF_THRESH, EVAL_NMS_THRESH
    from detector.quantize import OPENVINO_PRECISIONS, load_calibration_frames

    torch.set_num_threads(args.threads)
    files = find_dataset(args.data, args.split, args.annotations)
    dataset = CocoDataset(files.annotation_file, files.image_root)
    model, meta = load_for_export(args.model)
    input_hw = tuple(args.input_size or meta.input_size)
    meta.input_size = input_hw
    calib = load_calibration_frames(args.calibration, count=args.calibration_frames, input_hw=input_hw)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "m.onnx", input_size=input_hw, metadata=meta)
        x = np.random.default_rng(0).integers(0, 256, (1, 3, *input_hw)).astype(np.float32)
        for precision in OPENVINO_PRECISIONS:
            xml = export_openvino(onnx_path, Path(tmp) / f"m_{precision}.xml", precision=precision,
                                  calibration_frames=calib)
            backend = OpenVinoBackend(xml, threads=args.threads)
            det = Detector(backend, conf_thresh=EVAL_CONF_THRESH, nms_thresh=EVAL_NMS_THRESH,
                           class_names=dataset.classes)
            metrics = run_detector(det, dataset, batch_size=1, max_images=args.max_images, desc=precision)
            rows.append((precision, backend.precision, metrics.AP, median_ms(lambda: backend.run(x), runs=args.runs,
                                                                              warmup=3)))
    base_ap = rows[0][2]
    print(f"{args.model} at {input_hw[0]}x{input_hw[1]}, AP on {min(args.max_images, len(dataset))} images of "
          f"{files.annotation_file}; calibration: {args.calibration} ({len(calib)} frames); {args.threads} thread(s)")
    print(f"{'stored':<8}{'runs as':<9}{'AP':>7}{'dAP':>7}{'ms':>8}{'speed-up':>10}")
    for precision, runs_as, ap_value, ms in rows:
        print(f"{precision:<8}{runs_as:<9}{ap_value:7.1f}{ap_value - base_ap:+7.1f}{ms:8.2f}{rows[0][3] / ms:9.2f}x")


if __name__ == "__main__":
    main()
