"""Stream a dataset through a detector and score it: `python -m streaming.run`.

    python -m streaming.run --model yolox_l.engine --fps 30
    python -m streaming.run --model yolox_s.onnx --data Argoverse-1.1/tracking \\
        --annotations Argoverse-HD/annotations/val.json --latency fixed:0.05 --forecast kalman

Without --data a small synthetic world is generated on first use (datasets/). The run folder
gets logs/ (one stream log per sequence), offline/ (every frame's own detections),
report.md + report.json, config.yaml (resolved), runtime_profile.json (replayable with
--latency profile:FILE) and streaming_timeline.png; with --video also videos/<sequence>.mp4,
every frame with the prediction it is scored with (see eval_streaming.render).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from data.config import ConfigError, load_config, save_config
from eval_streaming.evaluate import evaluate_logs, submission_records, write_submission
from eval_streaming.report import EvalResult, format_report, write_report
from streaming.config import StreamingConfig
from streaming.detect import load_stream_detector, map_to_dataset, offline_pass
from streaming.latency import parse_latency
from streaming.log import StreamLog, write_log
from streaming.oracle import check_oracle_latency, is_oracle, oracle_pass
from streaming.scheduler import POLICIES
from streaming.simulate import CachedFrames, DetectorFrames, offline_outputs, simulate_sequence
from trackers.forecast import FORECAST_METHODS

# CLI flag -> config key (flags are applied before --set, which wins)
_FLAG_KEYS = {
    "model": "model", "fps": "fps", "data": "data", "annotations": "annotations", "split": "split",
    "latency": "latency", "policy": "policy", "perf_factor": "perf_factor", "input_size": "input_size",
    "forecast": "forecast.method", "eta": "eta", "out": "out", "submission": "submission", "seed": "seed",
    "device": "device", "max_sequences": "max_sequences", "max_frames": "max_frames",
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m streaming.run", description="streaming perception run + sAP")
    ap.add_argument("--config", help="YAML config (see configs/streaming.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--model", help="checkpoint/.onnx/.xml/.engine, zoo name, or 'oracle' (ground truth as "
                    "detections; default: bundled demo model)")
    ap.add_argument("--fps", type=float)
    ap.add_argument("--data", help="Argoverse-HD image root, or 'synthetic' (default)")
    ap.add_argument("--annotations", help="annotation JSON (default DATA/annotations/SPLIT.json)")
    ap.add_argument("--split")
    ap.add_argument("--latency", help="measured | fixed:SECONDS | profile:FILE")
    ap.add_argument("--policy", choices=POLICIES)
    ap.add_argument("--perf-factor", dest="perf_factor", type=float)
    ap.add_argument("--input-size", dest="input_size", type=int, nargs=2, metavar=("H", "W"))
    ap.add_argument("--forecast", choices=FORECAST_METHODS, help="sets forecast.method")
    ap.add_argument("--eta", type=float)
    ap.add_argument("--out")
    ap.add_argument("--submission")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--device")
    ap.add_argument("--max-sequences", dest="max_sequences", type=int)
    ap.add_argument("--max-frames", dest="max_frames", type=int)
    ap.add_argument("--realtime", action="store_true", default=None, help="wall-clock runner")
    ap.add_argument("--no-offline", dest="offline", action="store_false", default=None,
                    help="skip the every-frame pass (no offline AP; only processed frames are run)")
    ap.add_argument("--video", action="store_true", default=None,
                    help="write videos/<sequence>.mp4 showing each frame's scored prediction")
    return ap


def config_from_args(args: argparse.Namespace) -> StreamingConfig:
    overrides = [f"{key}={json.dumps(getattr(args, flag))}" for flag, key in _FLAG_KEYS.items()
                 if getattr(args, flag) is not None]
    for flag in ("realtime", "offline", "video"):
        if getattr(args, flag) is not None:
            overrides.append(f"{flag}={json.dumps(getattr(args, flag))}")
    return load_config(StreamingConfig, args.config, overrides + list(args.set))


def _world_matches(root: Path, wanted: dict) -> bool:
    """Whether the world on disk was generated with these settings (else it is regenerated)."""
    try:
        args = json.loads((root / "world.json").read_text())["arguments"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(args.get(k) == v for k, v in wanted.items())


def resolve_dataset(cfg: StreamingConfig) -> Any:
    from data.argoverse import ArgoverseHD

    if cfg.data in ("", "synthetic"):
        root = Path(cfg.synthetic.directory)
        s = cfg.synthetic
        wanted = {"sequences": s.sequences, "frames": s.frames, "size": list(s.size), "seed": s.seed}
        if not (root / "annotations" / f"{cfg.split}.json").is_file() or not _world_matches(root, wanted):
            from data.synthetic import generate_world

            print(f"generating the synthetic demo world in {root} ...", file=sys.stderr)
            # every sequence in val: the demo streams, it does not train
            generate_world(root, sequences=s.sequences, frames=s.frames, size=tuple(s.size), seed=s.seed,
                           val_fraction=1.0)
    else:
        root = Path(cfg.data)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: dataset folder not found")
    name = "test-meta.json" if cfg.split == "test" else f"{cfg.split}.json"
    annotations = Path(cfg.annotations) if cfg.annotations else root / "annotations" / name
    if not annotations.is_file():
        raise FileNotFoundError(f"{annotations}: annotation file not found (set --annotations)")
    return ArgoverseHD(annotations, root, check_images=True)


def _runtime_summary(runtimes: list[float]) -> dict:
    arr = np.asarray(runtimes, dtype=np.float64)
    if not arr.size:
        return {"count": 0}
    return {"count": int(arr.size), "mean_s": float(arr.mean()), "p50_s": float(np.percentile(arr, 50)),
            "p90_s": float(np.percentile(arr, 90)), "max_s": float(arr.max())}


def stream_dataset(cfg: StreamingConfig, dataset: Any, detector: Any, out: Path) -> tuple[list[StreamLog], list[StreamLog], list[float]]:
    """Run every sequence; write and return its stream logs, offline logs and measured runtimes.

    detector None: the oracle (streaming.oracle), whose every-frame pass reads the annotations."""
    from tqdm import tqdm

    from data.coco import read_image
    from streaming.realtime import run_realtime
    from streaming.sources import ReplaySource

    latency = parse_latency(cfg.latency, perf_factor=cfg.perf_factor, seed=cfg.seed)
    sequences = dataset.sequences[: cfg.max_sequences or None]
    logs, offline_logs, measured = [], [], []
    warmed = False
    for seq in sequences:
        frames = seq.frames[: cfg.max_frames or None]
        n = len(frames)

        def load(i: int, frames=frames) -> np.ndarray:
            return read_image(frames[i].path)

        if not warmed and n and detector is not None:  # first calls allocate and compile; keep them out of the timings
            try:
                detector([load(0)])
                warmed = True
            except (OSError, ValueError):
                pass
        header = dict(sequence=seq.name, sid=seq.sid, fps=cfg.fps, num_frames=n,
                      image_ids=[f.image_id for f in frames], classes=list(dataset.classes),
                      perf_factor=cfg.perf_factor, seed=cfg.seed)
        meta: dict[str, Any] = {"model": cfg.model or "demo", "device": cfg.device,
                                "input_size": list(getattr(getattr(detector, "detector", None), "input_size", []) or [])}
        bar = tqdm(total=n, desc=f"{seq.name} offline" if cfg.offline else seq.name, unit="frame", leave=False)
        cache = None
        if cfg.offline or detector is None:
            dets, runtimes, bad = (oracle_pass(dataset, header["image_ids"]) if detector is None
                                   else offline_pass(detector, load, n, progress=bar))
            measured += [r for r, d in zip(runtimes, dets) if d is not None]
            cache = CachedFrames(dets, runtimes)
            off = StreamLog(latency="offline", policy="offline", outputs=offline_outputs(dets, cfg.fps),
                            meta={**meta, "bad_frames": bad, "runtimes": runtimes}, **header)
            offline_logs.append(off)
            write_log(off, out / "offline" / f"{seq.name}.jsonl")
            bar.reset(total=n)
            bar.set_description(seq.name)

        def advance(index: int) -> None:
            bar.update(index + 1 - bar.n)

        if cfg.realtime:
            source = ReplaySource(load, num_frames=n, fps=cfg.fps)
            run = run_realtime(source, detector, policy=cfg.policy, on_output=lambda o: advance(o.frame_index))
            outputs, skipped, mode = run.outputs, source.bad_frames + run.failed_frames, "realtime"
            measured += [] if cfg.offline else run.measured
        else:
            runner = cache if cache is not None else DetectorFrames(detector, load)
            sim = simulate_sequence(runner, num_frames=n, fps=cfg.fps, latency=latency, policy=cfg.policy,
                                    key=seq.sid, on_job=advance)
            outputs, mode = sim.outputs, "simulated"
            skipped = runner.bad_frames if isinstance(runner, DetectorFrames) else bad
            measured += [] if cfg.offline else sim.measured
        bar.close()
        log = StreamLog(latency=cfg.latency, policy=cfg.policy, outputs=outputs,
                        meta={**meta, "mode": mode, "bad_frames": skipped}, **header)
        logs.append(log)
        write_log(log, out / "logs" / f"{seq.name}.jsonl")
        if skipped:
            print(f"{seq.name}: skipped {len(skipped)} unreadable frame(s), e.g. {skipped[0]}", file=sys.stderr)
    return logs, offline_logs, measured


def run(cfg: StreamingConfig) -> EvalResult:
    out = Path(cfg.out)
    for sub, pattern in (("logs", "*.jsonl"), ("offline", "*.jsonl"), ("videos", "*.mp4")):
        for old in (out / sub).glob(pattern) if (out / sub).is_dir() else []:
            old.unlink()  # stale files of an earlier run would be taken for this one's
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    if is_oracle(cfg.model):
        check_oracle_latency(cfg.latency)
    raw = None if is_oracle(cfg.model) else load_stream_detector(cfg)  # first: a bad model file fails early
    dataset = resolve_dataset(cfg)
    detector = None if raw is None else map_to_dataset(raw, dataset, cfg.model or "demo model")
    logs, offline_logs, measured = stream_dataset(cfg, dataset, detector, out)
    if not logs:
        raise ValueError(f"{dataset.annotation_file}: no sequences to stream")
    (out / "runtime_profile.json").write_text(json.dumps({
        "runtimes": measured, "model": cfg.model or "demo", "device": cfg.device,
        "input_size": list(getattr(raw, "input_size", []) or []), **_runtime_summary(measured),
    }, indent=1) + "\n")
    # A split without annotations (test-meta.json) is paired for the submission, not scored.
    result, pairings = evaluate_logs(logs, dataset, eta=cfg.eta, forecast=cfg.forecast,
                                     offline_logs=offline_logs or None,
                                     workers=2 if cfg.parallel_eval else 1)
    if cfg.submission:
        write_submission(cfg.submission, submission_records(logs, pairings, dataset.category_ids))
    write_report(result, out)
    if cfg.plot:
        from streaming.plot import plot_run

        plot_run(logs, pairings, out / "streaming_timeline.png")
    if cfg.video:
        from eval_streaming.evaluate import forecast_method
        from eval_streaming.render import render_logs, report_videos

        report_videos(render_logs(logs, pairings, dataset, out / "videos", forecast=forecast_method(cfg.forecast),
                                  eta=cfg.eta, max_sequences=cfg.video_max_sequences))
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        result = run(cfg)
    except (ConfigError, ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_report(result))
    print(f"run folder: {cfg.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
