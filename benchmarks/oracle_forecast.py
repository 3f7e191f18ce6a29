"""What each forecaster recovers of the latency loss, with the oracle detector on a synthetic world.

    python benchmarks/oracle_forecast.py [--world DIR] [--seed 77] [--sequences 4] [--frames 90] \\
        [--size 960 600] [--split val] [--latency-frames 0 1 3 6] [--json FILE]

The world (generated into --world, or a temporary folder, unless it is already there) is split
into train and val sequences; forecaster settings are tuned on train, so score val (held out).
The oracle streams every frame's ground truth at fixed latencies of 0, 1, 3 and 6 frames
(greedy schedule); every registered forecaster (trackers.FORECAST_METHODS, default settings)
pairs the same outputs. Prints sAP and the share of the latency loss each one recovers
(eval_streaming.forecast_study).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from data.argoverse import ArgoverseHD
from data.synthetic import generate_world
from eval_streaming.forecast_study import forecast_table, format_table


def ensure_world(root: Path, *, seed: int, sequences: int, frames: int, size: tuple[int, int]) -> Path:
    """`root` holding that world, generated unless world.json says it already does."""
    wanted = {"seed": seed, "sequences": sequences, "frames": frames, "size": list(size), "val_fraction": 0.5}
    try:
        args = json.loads((root / "world.json").read_text())["arguments"]
        if all(args.get(k) == v for k, v in wanted.items()):
            return root
    except (OSError, ValueError, KeyError):
        pass
    generate_world(root, sequences=sequences, frames=frames, size=size, seed=seed, val_fraction=0.5)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", help="world folder (kept); default: a temporary one")
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--sequences", type=int, default=4)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--size", type=int, nargs=2, default=[960, 600], metavar=("W", "H"))
    ap.add_argument("--split", default="val", choices=("train", "val"))
    ap.add_argument("--latency-frames", type=float, nargs="+", default=[0, 1, 3, 6])
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = ensure_world(Path(args.world or Path(tmp) / "world"), seed=args.seed, sequences=args.sequences,
                            frames=args.frames, size=tuple(args.size))
        dataset = ArgoverseHD(root / "annotations" / f"{args.split}.json", root, check_images=False)
        started = time.perf_counter()
        rows = forecast_table(dataset, latencies_frames=args.latency_frames, references=True)
        seconds = time.perf_counter() - started
    frames = sum(len(s) for s in dataset.sequences)
    w, h = args.size
    print(f"oracle detector, world seed {args.seed}, {args.split}: {len(dataset.sequences)} sequences, "
          f"{frames} frames, {w}x{h}; greedy schedule, fixed latency; {os.cpu_count()} CPUs, {seconds:.0f} s")
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
