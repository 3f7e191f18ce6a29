"""How long streaming evaluation takes at Argoverse-HD val size, and faster-coco-eval against pycocotools.

Builds a cached-detection run in memory (24 sequences, ~15k frames, ~10 objects per frame:
ground truth + noisy detections), simulates it with a fixed latency, then times each stage of
re-scoring it (log write/read, pairing, result rows) and the two COCOevals (streaming AP and
offline AP) with faster-coco-eval (what `evaluate_logs` runs) and with pycocotools on the same
rows. The 12 summary stats and per-class APs of both engines must agree to 1e-12. Run from the
repository root (it reuses the test worlds of tests/support):

    PYTHONPATH=. python benchmarks/streaming_eval.py [--sequences 24] [--frames 625] [--objects 10]
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np

from data.coco_eval import Scorer, per_class_ap, results_array
from eval_streaming.evaluate import pair_logs
from streaming.latency import parse_latency
from streaming.log import StreamLog, read_logs, write_log
from streaming.simulate import CachedFrames, offline_outputs, simulate_sequence
from tests.support.pycocotools_reference import pycocotools_cocoeval, pycocotools_ground_truth
from tests.support.toy_world import toy_detections, toy_world


class Timer:
    """Named blocks' wall-clock and CPU seconds, in the order they ran. On a shared machine the
    CPU time of this (single-threaded) process is the steadier of the two."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def __call__(self, name: str, note: str = ""):
        timer = self

        class _Block:
            def __enter__(self):
                self.t0, self.c0 = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                timer.seconds[name] = time.perf_counter() - self.t0
                timer.cpu[name] = time.process_time() - self.c0
                timer.notes[name] = note

        return _Block()


def _same(fast, ref, cats) -> float:
    """Largest difference between the two engines' 12 stats and per-class APs; fails above 1e-12."""
    diff = float(np.max(np.abs(np.asarray(fast.stats[:12]) - np.asarray(ref.stats))))
    a = per_class_ap(fast.eval["precision"], fast.params.catIds, cats)
    b = per_class_ap(ref.eval["precision"], ref.params.catIds, cats)
    if [x is None for x in a] != [x is None for x in b]:
        raise AssertionError("engines disagree on which classes have an AP")
    diff = max([diff] + [abs(x - y) / 100 for x, y in zip(a, b) if x is not None])
    if diff > 1e-12:
        raise AssertionError(f"faster-coco-eval and pycocotools differ by {diff:g}")
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sequences", type=int, default=24)
    ap.add_argument("--frames", type=int, default=625)
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--latency", default="fixed:0.045")
    args = ap.parse_args()
    timer = Timer()
    n_frames = args.sequences * args.frames

    with timer("generate world + detections", f"{n_frames} frames, {args.objects} objects/frame"):
        world = toy_world(sequences=args.sequences, frames=args.frames, objects=args.objects, seed=0)
        dets = toy_detections(world, seed=1)
    gt, cats, classes = world.ground_truth, world.ground_truth.category_ids, world.classes

    latency = parse_latency(args.latency)
    with timer("simulate (cached detections)", args.latency):
        logs = []
        for seq, per_frame in zip(world.sequences, dets):
            run = simulate_sequence(CachedFrames(per_frame), num_frames=len(per_frame), fps=world.fps,
                                    latency=latency, key=seq.sid)
            logs.append(StreamLog(seq.name, seq.sid, world.fps, len(per_frame), seq.image_ids, list(classes),
                                  args.latency, "greedy", run.outputs))
    processed = sum(len(log.outputs) for log in logs)

    with tempfile.TemporaryDirectory() as tmp:
        with timer("log write", f"{processed} outputs in {len(logs)} files"):
            for log in logs:
                write_log(log, Path(tmp) / "logs" / f"{log.sequence}.jsonl")
        size_mb = sum(p.stat().st_size for p in (Path(tmp) / "logs").iterdir()) / 1e6
        with timer("log read + validate", f"{size_mb:.1f} MB"):
            logs = read_logs(Path(tmp))

    with timer("pairing", f"{n_frames} queries"):
        pairings = pair_logs(logs)
    ids = [i for log in logs for i in log.image_ids]
    with timer("result rows", "streaming + offline"):
        rows = {"sAP": results_array(ids, [d for p in pairings for d in p.predictions], cats),
                "offline AP": results_array(ids, [d for per in dets for d in per], cats)}

    fast, ref = {}, {}
    with timer("faster-coco-eval ground truth", "once for both runs (Scorer)"):
        scorer = Scorer(gt.coco, ids, category_ids=cats)
    for name, r in rows.items():
        with timer(f"faster-coco-eval {name}", f"{len(r)} detections"):
            fast[name] = scorer.run(r)
    ref_gt = pycocotools_ground_truth(copy.deepcopy(world.dataset))
    for name, r in rows.items():
        with timer(f"pycocotools {name}", f"{len(r)} detections"):
            ref[name] = pycocotools_cocoeval(ref_gt, ids, r, cats)
    diff = max(_same(fast[n], ref[n], cats) for n in rows)

    s, cpu = timer.seconds, timer.cpu
    print(f"\nstreaming evaluation at Argoverse-HD val size: sAP {100 * fast['sAP'].stats[0]:.1f}, "
          f"offline AP {100 * fast['offline AP'].stats[0]:.1f}\n")
    print(f"| {'stage':<34} | {'wall s':>7} | {'CPU s':>7} | note")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 9}|------")
    for name, seconds in s.items():
        print(f"| {name:<34} | {seconds:7.2f} | {cpu[name]:7.2f} | {timer.notes[name]}")
    stages = ["log read + validate", "pairing", "result rows", "faster-coco-eval ground truth",
              *(f"faster-coco-eval {n}" for n in rows)]
    print(f"| {'re-score a saved run (total)':<34} | {sum(s[k] for k in stages):7.2f} | "
          f"{sum(cpu[k] for k in stages):7.2f} | read + pair + rows + both faster-coco-eval runs")
    print(f"\n| COCOeval (bbox) | pycocotools wall / CPU s | faster-coco-eval wall / CPU s | speed-up (CPU)")
    print(f"|{'-' * 17}|{'-' * 26}|{'-' * 31}|{'-' * 15}")
    for name in [*rows, "both"]:
        keys = list(rows) if name == "both" else [name]
        sw, sc = (sum(t[f"pycocotools {k}"] for k in keys) for t in (s, cpu))
        # the shared ground-truth index is charged to each run it serves
        fw, fc = (sum(t[f"faster-coco-eval {k}"] for k in keys) + t["faster-coco-eval ground truth"]
                  for t in (s, cpu))
        print(f"| {name:<15} | {sw:11.2f} / {sc:10.2f} | {fw:14.2f} / {fc:12.2f} | {sc / fc:6.1f}x")
    print(f"\nsame numbers: 12 summary stats and per-class AP agree to {diff:.1e} (limit 1e-12)")


if __name__ == "__main__":
    main()
