"""How long streaming evaluation takes at Argoverse-HD val size.

Builds a cached-detection run in memory (24 sequences, ~15k frames, ~10 objects per frame:
ground truth + noisy detections), simulates it with a fixed latency, then times each stage:
log write, log read, pairing, COCOeval sAP, offline AP, and the two COCOevals in parallel
as `evaluate_logs` runs them. Prints a table.

    python benchmarks/streaming_eval.py [--sequences 24] [--frames 625] [--objects 10]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from eval_streaming.coco_metrics import coco_ap, coco_ap_many, results_array
from eval_streaming.evaluate import pair_logs
from eval_streaming.toy import toy_detections, toy_world
from streaming.latency import parse_latency
from streaming.log import StreamLog, read_logs, write_log
from streaming.simulate import CachedFrames, offline_outputs, simulate_sequence


class Timer:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def __call__(self, name: str, note: str = ""):
        timer = self

        class _Block:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.rows.append((name, time.perf_counter() - self.t0, note))

        return _Block()


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
        logs, offline = [], []
        for seq, per_frame in zip(world.sequences, dets):
            run = simulate_sequence(CachedFrames(per_frame), num_frames=len(per_frame), fps=world.fps,
                                    latency=latency, key=seq.sid)
            header = dict(sequence=seq.name, sid=seq.sid, fps=world.fps, num_frames=len(per_frame),
                          image_ids=seq.image_ids, classes=list(classes))
            logs.append(StreamLog(latency=args.latency, policy="greedy", outputs=run.outputs, **header))
            offline.append(StreamLog(latency="offline", policy="offline",
                                     outputs=offline_outputs(per_frame, world.fps), **header))
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
    with timer("results arrays", "streaming + offline"):
        stream_rows = results_array(ids, [d for p in pairings for d in p.predictions], cats)
        offline_rows = results_array(ids, [d for per in dets for d in per], cats)
    with timer("COCOeval sAP", f"{len(stream_rows)} detections"):
        s = coco_ap(gt.coco, ids, stream_rows, category_ids=cats, class_names=classes)
    with timer("COCOeval offline AP", f"{len(offline_rows)} detections"):
        o = coco_ap(gt.coco, ids, offline_rows, category_ids=cats, class_names=classes)
    with timer("both COCOevals in parallel", "as evaluate_logs runs them"):
        both = coco_ap_many(gt.coco, {"s": (ids, stream_rows), "o": (ids, offline_rows)},
                            category_ids=cats, class_names=classes)
    assert both["s"].to_dict() == s.to_dict() and both["o"].to_dict() == o.to_dict()

    end_to_end = sum(t for name, t, _ in timer.rows if name in
                     ("log read + validate", "pairing", "results arrays", "both COCOevals in parallel"))
    print(f"\nstreaming evaluation at Argoverse-HD val size: sAP {s.AP:.1f}, offline AP {o.AP:.1f}\n")
    print(f"| {'stage':<30} | {'seconds':>8} | note")
    print(f"|{'-' * 32}|{'-' * 10}|------")
    for name, seconds, note in timer.rows:
        print(f"| {name:<30} | {seconds:8.2f} | {note}")
    print(f"| {'re-score a saved run (total)':<30} | {end_to_end:8.2f} | read + pair + arrays + parallel COCOeval")


if __name__ == "__main__":
    main()
