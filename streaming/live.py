"""Run a detector on a live ZeroMQ feed in real time and record the stream log.

    python -m streaming.live --model yolox_s.onnx --address tcp://127.0.0.1:5555 --out runs/live
    python -m streaming.zmq_io video.mp4 --address tcp://127.0.0.1:5555      # in another shell

The receiver binds (PULL by default; --pattern sub --connect for a publishing camera). The run
ends on the sender's end-of-stream message, after --idle-timeout seconds without frames, or
after --max-frames processed frames. Malformed messages are skipped and counted. Writes
logs/live.jsonl (the stream log; no ground truth, so no AP) and runtime_profile.json; with
--record also recording.mp4 + recording.json, every received frame at its capture time
(streaming/recorder.py), which `streaming.run --data RUN/recording.mp4` replays. The log's fps
is --fps, else the feed's own rate (median interval of the capture times).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from data.cli import run_command
from detector.runner import Detect, FrameRunner
from streaming.log import StreamLog, write_log
from streaming.realtime import run_realtime
from streaming.recorder import CaptureTimes, SessionRecorder
from streaming.scheduler import POLICIES
from streaming.zmq_io import ZmqFrameSource


@dataclass
class LiveSummary:
    received: int
    processed: int
    malformed: int
    malformed_reasons: list[str]
    mean_runtime_s: float | None
    log_path: Path


def run_live(
    source: ZmqFrameSource,
    detector: Detect,
    *,
    classes: list[str],
    out: str | Path,
    policy: str = "greedy",
    idle_timeout: float = 5.0,
    max_frames: int | None = None,
    meta: dict | None = None,
    feed: CaptureTimes | None = None,
    fps: float | None = None,
) -> LiveSummary:
    """`feed`: the source's on_frame hook, whose capture times give the log's fps unless `fps` is set."""
    out = Path(out)
    run = run_realtime(source, FrameRunner(detector), policy=policy, idle_timeout=idle_timeout,
                       max_frames=max_frames)
    log_fps = fps or (feed.fps if feed is not None else None) or source.fps
    log = StreamLog(
        sequence="live", sid=0, fps=log_fps, num_frames=run.num_frames, image_ids=[], classes=list(classes),
        latency="measured", policy=policy, outputs=run.outputs,
        meta={**(meta or {}), "mode": "live", "received": source.received, "malformed": source.malformed,
              "malformed_reasons": source.malformed_reasons, "failed_frames": run.bad_frames},
    )
    path = write_log(log, out / "logs" / "live.jsonl")
    (out / "runtime_profile.json").write_text(json.dumps({"runtimes": run.measured, **(meta or {})}, indent=1) + "\n")
    return LiveSummary(
        received=source.received, processed=len(run.measured), malformed=source.malformed,
        malformed_reasons=list(source.malformed_reasons),
        mean_runtime_s=float(np.mean(run.measured)) if run.measured else None, log_path=path,
    )


def live_model(model: str) -> tuple[str, list[str]]:
    """The model to run and why: as given, else what footage gets (streaming.footage), warned on stderr."""
    if model:
        return model, []
    from streaming.detect import demo_model_path
    from streaming.footage import default_footage_model

    model, warnings = default_footage_model()
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return model or str(demo_model_path()), warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Bad input (model file, address) raises; run_command turns it into exit code 2."""
    from detector.api import DEMO_CONF_THRESH, DEMO_NMS_THRESH, load_detector

    ap = argparse.ArgumentParser(prog="python -m streaming.live", description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="", help="checkpoint/.onnx/.xml/.engine or zoo name (default: the COCO "
                    "YOLOX-S when its weights are cached, else the demo model, with a warning)")
    ap.add_argument("--address", default="tcp://127.0.0.1:5555")
    ap.add_argument("--pattern", choices=("pull", "sub"), default="pull")
    ap.add_argument("--connect", action="store_true", help="connect instead of bind")
    ap.add_argument("--fps", type=float, default=None,
                    help="nominal frame rate of the feed (default: measured from its capture times; 30 until known)")
    ap.add_argument("--record", action="store_true",
                    help="store every received frame in OUT/recording.mp4 (+ .json) for streaming.run --data")
    ap.add_argument("--policy", choices=POLICIES, default="greedy")
    ap.add_argument("--idle-timeout", type=float, default=5.0)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--conf-thresh", type=float, default=DEMO_CONF_THRESH)
    ap.add_argument("--nms-thresh", type=float, default=DEMO_NMS_THRESH)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="runs/live")
    args = ap.parse_args(argv)
    model, warnings = live_model(args.model)
    detector = load_detector(model, conf_thresh=args.conf_thresh, nms_thresh=args.nms_thresh,
                             device=args.device)
    nominal = args.fps or 30.0
    feed = SessionRecorder(Path(args.out) / "recording.mp4", nominal_fps=nominal) if args.record else CaptureTimes()
    source = ZmqFrameSource(args.address, fps=nominal, pattern=args.pattern, bind=not args.connect, on_frame=feed)
    try:
        print(f"listening on {source.endpoint} ({args.pattern})", file=sys.stderr)
        summary = run_live(source, detector, classes=list(detector.classes), out=args.out, policy=args.policy,
                           idle_timeout=args.idle_timeout, max_frames=args.max_frames,
                           meta={"model": model, "device": args.device, "warnings": warnings}, feed=feed,
                           fps=args.fps)
    finally:
        source.close()
        sidecar = feed.close() if isinstance(feed, SessionRecorder) else None
    if sidecar is not None:
        print(f"recorded {len(feed.frames)} frames: {feed.path} (+ {sidecar.name})")
    mean = f"{summary.mean_runtime_s * 1000:.1f} ms" if summary.mean_runtime_s is not None else "-"
    print(f"received {summary.received} frames, processed {summary.processed} (mean runtime {mean}), "
          f"skipped {summary.malformed} malformed message(s); log: {summary.log_path}")
    for reason in summary.malformed_reasons[:5]:
        print(f"  malformed: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
