"""Speed of the synthetic world generator: whole generate_world() runs (render, JPEG, JSON).

    python benchmarks/synthetic_world.py [--frames 300] [--sizes 640x400 960x600 1920x1200] [--seed 0]

One sequence per size, written to a temporary folder; prints frames per second and the time a
300-frame sequence takes at that rate. Single-threaded OpenCV (OMP/OpenCV threads set to 1) so
that the numbers do not depend on what else the machine runs.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2

from data.synthetic import generate_world


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--sizes", nargs="+", default=["640x400", "960x600", "1920x1200"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, OpenCV {cv2.__version__}")
    print(f"{'size':>10s} {'frames':>7s} {'seconds':>8s} {'frames/s':>9s} {'300 frames':>11s} {'boxes/frame':>12s}")
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = generate_world(Path(tmp) / "w", sequences=1, frames=args.frames, size=(w, h), seed=args.seed,
                                     progress=False)
            seconds = time.perf_counter() - start
        rate = args.frames / seconds
        boxes = sum(summary["objects"].values()) / args.frames
        print(f"{size:>10s} {args.frames:7d} {seconds:8.1f} {rate:9.1f} {300 / rate:10.1f}s {boxes:12.1f}")


if __name__ == "__main__":
    main()
