"""Run a detector on a live ZeroMQ feed in real time and record the stream log.

    python -m streaming.live --model yolox_s.onnx --address tcp://127.0.0.1:5555 --out runs/live
    python -m streaming.zmq_io video.mp4 --address tcp://127.0.0.1:5555      # in another shell

The receiver binds (PULL by default; --pattern sub --connect for a publishing camera). It
waits for the first message as long as --startup-timeout says (default: until Ctrl-C); the run
ends on the sender's end-of-stream message, after --idle-timeout seconds without any message,
or after --max-frames processed frames. Malformed messages are skipped and counted by reason; a
restarted sender starts a new segment of the same stream. Writes logs/live.jsonl (the stream
log, one line per output as it is produced; no ground truth, so no AP) and runtime_profile.json.
Ctrl-C or SIGTERM stops the run with one line and keeps every processed frame in the log. With
--record also recording.mp4 + recording.json, every received frame at its capture time
(streaming/recorder.py), which `streaming.run --data RUN/recording.mp4` replays. The log's fps
is --fps, else the feed's own rate (median interval of the capture times).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from data.cli import run_command
from detector.runner import Detect, FrameRunner
from streaming.log import LogWriter, StreamLog, StreamOutput
from streaming.realtime import Throughput, run_realtime, throughput
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
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    feed_fps: float | None = None  # measured from the capture times
    segments: int = 0
    throughput: Throughput | None = None  # what the detector achieved on the wall clock


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
    """Run until the feed ends; the log is written as outputs come, and completed (footer,
    runtime profile) also when the run is interrupted or fails, before the error propagates.
    `feed`: the source's on_frame hook, whose capture times give the log's fps unless `fps` is set."""
    out = Path(out)
    header = StreamLog(sequence="live", sid=0, fps=source.fps, num_frames=0, image_ids=[], classes=list(classes),
                       latency="measured", policy=policy, meta={**(meta or {}), "mode": "live"})
    writer = LogWriter(header, out / "logs" / "live.jsonl")
    runner = FrameRunner(detector)
    outputs: list[StreamOutput] = []

    def record(output: StreamOutput) -> None:
        writer.write(output)
        outputs.append(output)

    interrupted = True
    try:
        run_realtime(source, runner, policy=policy, idle_timeout=idle_timeout, max_frames=max_frames,
                     on_output=record)
        interrupted = False
    finally:
        stats = source.stats()
        runtimes = [o.runtime for o in outputs]
        log_fps = fps or (feed.fps if feed is not None else None) or source.fps
        path = writer.close(source.feed.last_stream_index + 1,
                            {**stats, "failed_frames": runner.bad_frames, "interrupted": interrupted}, fps=log_fps)
        (out / "runtime_profile.json").write_text(json.dumps({"runtimes": runtimes, **(meta or {})}, indent=1) + "\n")
    return LiveSummary(
        received=source.received, processed=len(outputs), malformed=source.malformed,
        malformed_reasons=list(source.malformed_reasons),
        mean_runtime_s=float(np.mean(runtimes)) if runtimes else None, log_path=path,
        rejected=dict(source.rejected), feed_fps=source.feed.feed_fps(), segments=source.feed.num_segments,
        throughput=throughput(outputs, source.received),
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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the run like Ctrl-C: the log is completed


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
    ap.add_argument("--idle-timeout", type=float, default=5.0, help="seconds without any message that end the run")
    ap.add_argument("--startup-timeout", type=float, default=float("inf"),
                    help="seconds to wait for the first message (default: until Ctrl-C)")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--conf-thresh", type=float, default=DEMO_CONF_THRESH)
    ap.add_argument("--nms-thresh", type=float, default=DEMO_NMS_THRESH)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", choices=("auto", "torch", "onnx", "openvino", "tensorrt"), default="auto",
                    help="auto: a .pth on a CPU runs through OpenVINO, exported once and cached (detector.ov_cache)")
    ap.add_argument("--precision", choices=("f32", "bf16", "int8"), default=None, help="OpenVINO compute precision")
    ap.add_argument("--out", default="runs/live")
    args = ap.parse_args(argv)
    model, warnings = live_model(args.model)
    detector = load_detector(model, conf_thresh=args.conf_thresh, nms_thresh=args.nms_thresh,
                             device=args.device, backend=args.backend, precision=args.precision)
    print(f"detector: {detector!r}", file=sys.stderr)
    nominal = args.fps or 30.0
    feed = SessionRecorder(Path(args.out) / "recording.mp4", nominal_fps=nominal) if args.record else CaptureTimes()
    source = ZmqFrameSource(args.address, fps=nominal, pattern=args.pattern, bind=not args.connect,
                            startup_timeout=args.startup_timeout, on_frame=feed)
    # signal handlers can only be set from the main thread (tests run main in a thread)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        print(f"listening on {source.endpoint} ({args.pattern})", file=sys.stderr)
        summary = run_live(source, detector, classes=list(detector.classes), out=args.out, policy=args.policy,
                           idle_timeout=args.idle_timeout, max_frames=args.max_frames,
                           meta={"model": model, "device": args.device, "warnings": warnings,
                                 "backend": detector.backend.kind, "precision": detector.backend.precision},
                           feed=feed,
                           fps=args.fps)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        source.close()
        sidecar = feed.close() if isinstance(feed, SessionRecorder) else None
    if sidecar is not None:
        print(f"recorded {len(feed.frames)} frames: {feed.path} (+ {sidecar.name})")
    mean = f"{summary.mean_runtime_s * 1000:.1f} ms" if summary.mean_runtime_s is not None else "-"
    print(f"received {summary.received} frames, processed {summary.processed} (mean runtime {mean}), "
          f"skipped {summary.malformed} malformed message(s); log: {summary.log_path}")
    tp = summary.throughput
    if tp is not None and tp.processed:
        print(f"throughput: {tp.processed_fps:.1f} frames/s processed on the wall clock ({tp.processed} of "
              f"{tp.offered} received in {tp.wall_s:.2f} s, {tp.dropped} dropped)")
    if summary.feed_fps is not None:
        print(f"feed: {summary.feed_fps:.1f} frames/s by capture time, {summary.segments} segment(s)", file=sys.stderr)
    if summary.rejected:
        print("  rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.rejected.items())), file=sys.stderr)
    for reason in summary.malformed_reasons[:5]:
        print(f"  malformed: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
