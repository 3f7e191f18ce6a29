"""Stream a dataset through a detector and score it: `python -m streaming.run`.

    python -m streaming.run --model yolox_l.engine --fps 30
    python -m streaming.run --model yolox_s.onnx --data Argoverse-1.1/tracking \\
        --annotations Argoverse-HD/annotations/val.json --latency fixed:0.05 --forecast kalman

Without --data a small synthetic world is generated on first use (datasets/). The run folder
gets logs/ (one stream log per sequence), offline/ (every frame's own detections),
report.md + report.json, config.yaml (resolved), runtime_profile.json (replayable with
--latency profile:FILE) and streaming_timeline.png; with --video also videos/<sequence>.mp4,
every frame with the prediction it is scored with (see eval_streaming.render). The folder is
written as <out>.partial-<pid> and replaces --out only when everything is written
(streaming/run_folder.py): a typo or Ctrl-C never costs the previous run.

    python -m streaming.run --data dashcam.mp4 --video            # any video or image folder
    python -m streaming.run --data runs/live/recording.mp4 --latency trace:runs/live/logs/live.jsonl

Footage (streaming.footage) streams at the file's own frame times and is reported without AP
(processed / dropped frames, latency; `--pseudo-gt offline` adds a score against the model's own
offline detections, reported apart).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from data.cli import run_command
from data.config import load_config
from eval_streaming.evaluate import evaluate_logs, submission_records, write_submission
from eval_streaming.report import EvalResult, write_report
from eval_streaming.unlabeled import PSEUDO_GT_MODES, append_footage_report, footage_summary, score_against_pseudo_gt
from streaming.config import StreamingConfig
from streaming.footage import prepare_footage, uses_footage
from streaming.scheduler import POLICIES, TIMING_MODES
from streaming.session import stream_session
from trackers import FORECAST_METHODS

# CLI flag -> config key (flags are applied before --set, which wins)
_FLAG_KEYS = {
    "model": "model", "fps": "fps", "data": "data", "annotations": "annotations", "split": "split",
    "latency": "latency", "policy": "policy", "perf_factor": "perf_factor", "input_size": "input_size",
    "forecast": "forecast.method", "eta": "eta", "out": "out", "submission": "submission", "seed": "seed",
    "device": "device", "max_sequences": "max_sequences", "max_frames": "max_frames", "timing": "timing",
    "max_det": "max_det", "backend": "backend", "precision": "precision", "threads": "threads",
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m streaming.run", description="streaming perception run + sAP")
    ap.add_argument("--config", help="YAML config (see configs/streaming.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--model", help="checkpoint/.onnx/.xml/.engine, zoo name, or 'oracle' (ground truth as "
                    "detections); default: the bundled demo model")
    ap.add_argument("--fps", type=float, help="frame rate (default 30); for footage: a constant rate instead "
                    "of the file's timestamps")
    ap.add_argument("--data", help="Argoverse-HD image root, 'synthetic' (default), or footage: a video file "
                    "or an image folder (no annotations; frames at the file's own times)")
    ap.add_argument("--annotations", help="annotation JSON (default DATA/annotations/SPLIT.json)")
    ap.add_argument("--split")
    ap.add_argument("--latency", help="measured | fixed:SECONDS | profile:FILE | trace:FILE (a stream log's or "
                    "runtime_profile.json's runtimes replayed in order)")
    ap.add_argument("--policy", choices=POLICIES)
    ap.add_argument("--perf-factor", dest="perf_factor", type=float)
    ap.add_argument("--input-size", dest="input_size", type=int, nargs=2, metavar=("H", "W"))
    ap.add_argument("--forecast", choices=FORECAST_METHODS, help="sets forecast.method")
    ap.add_argument("--eta", type=float,
                    help="the sAP toolkit's --eta: frame j is scored at (j - eta) / fps; -1 = one frame later")
    ap.add_argument("--timing", choices=TIMING_MODES,
                    help="exact (default) or toolkit: the sAP toolkit's float arithmetic, bit for bit")
    ap.add_argument("--max-det", dest="max_det", type=int, help="detections kept per frame (default 100)")
    ap.add_argument("--out")
    ap.add_argument("--submission")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--device")
    ap.add_argument("--backend", choices=("auto", "torch", "onnx", "openvino", "tensorrt"),
                    help="auto (default): a .pth on a CPU runs through OpenVINO, exported once and cached")
    ap.add_argument("--precision", choices=("f32", "bf16", "int8"), help="OpenVINO compute precision")
    ap.add_argument("--threads", type=int, help="intra-op threads per inference (default: 1 on <= 2 cores)")
    ap.add_argument("--max-sequences", dest="max_sequences", type=int)
    ap.add_argument("--max-frames", dest="max_frames", type=int)
    ap.add_argument("--realtime", action="store_true", default=None, help="wall-clock runner")
    ap.add_argument("--no-offline", dest="offline", action="store_false", default=None,
                    help="skip the every-frame pass (no offline AP; only processed frames are run)")
    ap.add_argument("--video", action="store_true", default=None,
                    help="write videos/<sequence>.mp4 showing each frame's scored prediction")
    ap.add_argument("--pseudo-gt", dest="pseudo_gt", choices=PSEUDO_GT_MODES, default="none",
                    help="footage only: score the stream against the same model's offline detections "
                    "(reported apart, as 'sAP vs offline pseudo-labels')")
    return ap


def config_from_args(args: argparse.Namespace) -> StreamingConfig:
    overrides = [f"{key}={json.dumps(getattr(args, flag))}" for flag, key in _FLAG_KEYS.items()
                 if getattr(args, flag) is not None]
    for flag in ("realtime", "offline", "video"):
        if getattr(args, flag) is not None:
            overrides.append(f"{flag}={json.dumps(getattr(args, flag))}")
    if args.fps is not None:  # footage: a constant rate instead of the file's times
        overrides.append("fps_from_footage=false")
    return load_config(StreamingConfig, args.config, overrides + list(args.set))


def run(cfg: StreamingConfig, *, pseudo_gt: str = "none") -> EvalResult:
    """Stream (streaming.session), then score, report, plot and render (eval_streaming); the run
    folder is swapped in as --out only when all of it is written."""
    footage = prepare_footage(cfg) if uses_footage(cfg) else None
    if footage is not None:
        cfg = footage.cfg
        for warning in footage.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    elif pseudo_gt != "none":
        raise ValueError(f"--pseudo-gt: only for footage without annotations; {cfg.data or 'synthetic'} has them")
    session = stream_session(cfg, dataset=footage.dataset if footage else None, commit=False)
    logs, dataset, out = session.logs, session.dataset, session.out
    # A split without annotations (test-meta.json) is paired for the submission, not scored;
    # footage has no annotation file at all.
    result, pairings = evaluate_logs(logs, None if footage else dataset, eta=cfg.eta, forecast=cfg.forecast,
                                     offline_logs=session.offline_logs or None, max_det=cfg.max_det)
    if cfg.submission:
        write_submission(cfg.submission, submission_records(logs, pairings, dataset.category_ids))
    write_report(result, out)
    append_runtime_report(out, session)
    if footage is not None:
        pseudo = None
        if pseudo_gt == "offline":
            pseudo = score_against_pseudo_gt(logs, session.offline_logs, footage.dataset.size_wh, eta=cfg.eta,
                                             forecast=cfg.forecast, max_det=cfg.max_det)
        append_footage_report(out, footage_summary(result, footage.dataset.info, footage.warnings), pseudo)
    if cfg.plot:
        from eval_streaming.plot import plot_run

        plot_run(logs, pairings, out / "streaming_timeline.png")
    if cfg.video:
        from eval_streaming.render import render_logs, report_videos

        report_videos(render_logs(logs, pairings, dataset, out / "videos", forecast=cfg.forecast.method,
                                  eta=cfg.eta, max_sequences=cfg.video_max_sequences))
    session.commit()
    return result


def runtime_info(session) -> dict:  # noqa: ANN001 - a StreamSession
    """Which backend and precision ran, and for a wall-clock run the throughput it achieved."""
    det = session.detector.detector if session.detector is not None else None
    backend = getattr(det, "backend", None)
    info: dict = {"backend": getattr(backend, "kind", "oracle" if det is None else type(det).__name__),
                  "precision": getattr(backend, "precision", None), "threads": getattr(backend, "threads", None),
                  "model": getattr(backend, "source", None) or session.cfg.model or "demo",
                  "input_size": list(getattr(det, "input_size", []) or [])}
    if session.cfg.realtime:
        from streaming.realtime import Throughput, throughput

        per_seq = [throughput(log.outputs, log.num_frames) for log in session.logs]
        run = Throughput(sum(t.processed for t in per_seq), sum(t.offered for t in per_seq),
                         sum(t.wall_s for t in per_seq))
        info["realtime"] = run.to_dict(session.cfg.fps)
    return info


def append_runtime_report(out: Path, session) -> None:  # noqa: ANN001
    info = runtime_info(session)
    precision = f" {info['precision']}" if info["precision"] else ""
    size = "x".join(str(v) for v in info["input_size"])
    threads = f", {info['threads']} thread{'s' if info['threads'] != 1 else ''}" if info.get("threads") else ""
    lines = [f"\n## Detector\n\n{info['backend']}{precision}, input {size or '-'}{threads} ({info['model']})\n"]
    rt = info.get("realtime")
    if rt is not None:
        lines.append(f"\nWall clock: processed {rt['processed']} of {rt['offered']} frames in {rt['wall_s']:.2f} s = "
                     f"{rt['processed_fps']:.1f} FPS ({'keeps up with' if rt['keeps_up'] else 'falls behind'} "
                     f"the {rt['feed_fps']:g} FPS feed; {rt['dropped']} dropped)\n")
    with (Path(out) / "report.md").open("a") as f:
        f.write("".join(lines))
    data = json.loads((Path(out) / "report.json").read_text())
    data["detector"] = info
    (Path(out) / "report.json").write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Bad input (config, model file, dataset) raises; run_command turns it into exit code 2."""
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    run(cfg, pseudo_gt=args.pseudo_gt)
    print((Path(cfg.out) / "report.md").read_text(), end="")  # with the footage section, when there is one
    print(f"run folder: {cfg.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
