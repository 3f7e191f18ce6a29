"""Per-frame cost of the forecasters: one update plus one forecast, as the evaluator calls them.

    python benchmarks/tracker.py [--objects 10 100 500] [--frames 300] [--seed 0]

Scene: N boxes (20-120 px) in a 1920x1200 frame moving at constant velocities with 1 px
detection jitter, a detection every frame at 30 FPS, 5 % missed detections, scores uniform in
[0.05, 1] (so ByteTrack's two stages both work), and ~2 % of objects replaced by new ones every
frame (track starts and removals). Prints the median and 90th percentile over the timed frames
after a warm-up.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from data.detections import Detections
from trackers import ForecastConfig, build_forecaster

FPS = 30.0
SIZE = (1920, 1200)


class Scene:
    """Moving boxes with churn; ``frame(i)`` gives the Detections of frame i."""

    def __init__(self, n: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.n = n
        self.pos = self.rng.uniform([100, 100], [SIZE[0] - 100, SIZE[1] - 100], (n, 2))
        self.vel = self.rng.normal(0, 80, (n, 2))
        self.wh = self.rng.uniform(20, 120, (n, 2))
        self.labels = self.rng.integers(0, 8, n)

    def frame(self, i: int) -> Detections:
        rng = self.rng
        replace = rng.uniform(size=self.n) < 0.02
        k = int(replace.sum())
        self.pos[replace] = rng.uniform([100, 100], [SIZE[0] - 100, SIZE[1] - 100], (k, 2))
        self.vel[replace] = rng.normal(0, 80, (k, 2))
        self.wh[replace] = rng.uniform(20, 120, (k, 2))
        self.labels[replace] = rng.integers(0, 8, k)
        self.pos += self.vel / FPS
        centre = self.pos + rng.normal(0, 1, self.pos.shape)
        boxes = np.concatenate([centre - self.wh / 2, centre + self.wh / 2], axis=1)
        seen = rng.uniform(size=self.n) > 0.05
        scores = rng.uniform(0.05, 1.0, self.n)
        return Detections(boxes[seen].astype(np.float32), scores[seen].astype(np.float32), self.labels[seen])


def time_forecaster(cfg: ForecastConfig, n: int, frames: int, warmup: int, seed: int) -> tuple[float, float, float]:
    """(median ms, p90 ms, mean live tracks) of update + forecast per frame."""
    scene = Scene(n, seed)
    inputs = [scene.frame(i) for i in range(frames + warmup)]  # scene generation is not timed
    forecaster = build_forecaster(cfg, image_size=SIZE)
    times, tracks = [], []
    for i, dets in enumerate(inputs):
        t_input = i / FPS
        start = time.perf_counter()
        forecaster.update(dets, t_input)
        forecaster.forecast(t_input + 2 / FPS)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            times.append(elapsed)
            tracks.append(forecaster.tracker.num_tracks if hasattr(forecaster, "tracker") else len(dets))
    ms = np.array(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90)), float(np.mean(tracks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--frames", type=int, default=300, help="timed frames per setting")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {args.frames} frames")
    header = f"| {'method':<9} | {'association':<11} | {'objects':>7} | {'tracks':>6} | {'median ms':>9} | {'p90 ms':>7} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    settings = [("none", "optimal")] + [(m, a) for m in ("kalman", "bytetrack") for a in ("optimal", "greedy")]
    for n in args.objects:
        for method, association in settings:
            cfg = ForecastConfig(method=method, association=association)
            med, p90, tracks = time_forecaster(cfg, n, args.frames, args.warmup, args.seed)
            print(f"| {method:<9} | {association if method != 'none' else '-':<11} | {n:>7} | "
                  f"{tracks:>6.0f} | {med:>9.3f} | {p90:>7.3f} |")


if __name__ == "__main__":
    main()
