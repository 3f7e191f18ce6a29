"""Latency-budget ablations from one run's every-frame detections, without re-running the detector.

    python -m eval_streaming.sweep --run RUN_DIR --annotations FILE \\
        --latency fixed:0.02 fixed:0.033 fixed:0.05 measured --policy greedy shrinking-tail \\
        --forecast none kalman [--perf-factor 1.0 1.2] [--eta 0] [--seed 0]

RUN_DIR/offline/*.jsonl (written by `python -m streaming.run`) hold each frame's detections and
measured runtimes; every combination is simulated from them, paired and scored. Writes sweep.md, sweep.json and sweep.png (sAP against latency) to --out.

A learned forecaster (StreamYOLO) cannot be replayed from an every-frame pass: its feature buffer
holds the previous *processed* frame, which depends on the latency. `--stream RUN ...` adds
streaming.run folders recorded with it (one per latency, e.g. `--latency fixed:0.1 --no-offline`):
each is paired as recorded under every `--forecast`, as rows "learned" (no forecaster on top) and
"learned + kalman" etc.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from data.cli import run_command
from data.coco_eval import SUMMARY_KEYS, Scorer, format_table, results_array
from data.detections import Detections
from eval_streaming.evaluate import check_compatible, eta_arg, forecast_method, load_annotations, pair_logs
from eval_streaming.pairing import MAX_DET, offline_predictions, offline_targets
from streaming.latency import parse_latency
from streaming.log import StreamLog, read_logs
from streaming.scheduler import POLICIES, TIMING_MODES
from streaming.run_folder import check_run_complete
from streaming.simulate import CachedFrames, simulate_sequence
from trackers import FORECAST_METHODS


@dataclass(frozen=True)
class SweepPoint:
    latency: str
    policy: str = "greedy"
    forecast: str = "none"
    perf_factor: float = 1.0

    @property
    def label(self) -> str:
        return f"{self.latency} / {self.policy} / {self.forecast} / x{self.perf_factor:g}"


def frame_caches(offline_logs: Sequence[StreamLog]) -> list[CachedFrames]:
    """Each offline log's detections (and measured runtimes, when complete) as the simulator replays them."""
    caches = []
    for log in offline_logs:
        runtimes = log.meta.get("runtimes")
        if runtimes is not None and len(runtimes) != log.num_frames:
            runtimes = None
        caches.append(CachedFrames(offline_predictions(log.outputs, log.num_frames), runtimes))
    return caches


def simulate_point(offline_logs: Sequence[StreamLog], caches: Sequence[CachedFrames], point: SweepPoint,
                   *, seed: int = 0, timing: str = "exact") -> list[StreamLog]:
    latency = parse_latency(point.latency, perf_factor=point.perf_factor, seed=seed)
    if latency.needs_measurement and any(c.runtimes is None for c in caches):
        raise ValueError("latency 'measured' needs per-frame runtimes in the offline logs (meta.runtimes)")
    logs = []
    for log, cache in zip(offline_logs, caches):
        run = simulate_sequence(cache, num_frames=log.num_frames, fps=log.fps, latency=latency,
                                policy=point.policy, key=log.sid, timing=timing)
        logs.append(StreamLog(log.sequence, log.sid, log.fps, log.num_frames, log.image_ids, log.classes,
                              point.latency, point.policy, run.outputs, point.perf_factor, seed, timing=timing,
                              meta={k: log.meta[k] for k in ("forecast_frames",) if k in log.meta}))
    return logs


def scorer_for(annotations: Any, ids: Sequence[int]) -> Scorer:
    """One Scorer for every row on the same frames (the ground-truth index is built once)."""
    return Scorer(annotations.coco, ids, category_ids=list(annotations.category_ids),
                  class_names=list(annotations.classes))


def _scores(annotations: Any, ids: list[int], predictions: Sequence[Detections],
            scorer: Scorer | None = None) -> dict:
    scorer = scorer_for(annotations, ids) if scorer is None else scorer
    metrics = scorer.evaluate(results_array(ids, predictions, list(annotations.category_ids)))
    return {k: v for k, v in metrics.to_dict().items() if k != "per_class"}


def offline_row(offline_logs: Sequence[StreamLog], annotations: Any,
                caches: Sequence[CachedFrames] | None = None, *, scorer: Scorer | None = None) -> dict:
    """The zero-latency reference row: every frame scored with the output that describes it
    (offline AP; a learned forecaster's next-frame AP, eval_streaming.pairing.offline_targets)."""
    check_compatible(offline_logs, annotations)
    caches = frame_caches(offline_logs) if caches is None else caches
    all_ids = [i for log in offline_logs for i in log.image_ids]
    targets = [offline_targets(log.image_ids, [d.top(MAX_DET) if d is not None else Detections.empty()
                                               for d in c.detections], log.forecast_frames)
               for log, c in zip(offline_logs, caches)]
    ids = [i for t in targets for i in t[0]]
    return {"latency": "offline", "policy": "-", "forecast": "-" if ids == all_ids else "next frame",
            "perf_factor": 1.0, "eta": 0.0, "processed": len(all_ids), "missed": 0, "in_time": len(all_ids),
            "mean_frames_behind": 0.0,
            **_scores(annotations, ids, [d for t in targets for d in t[1]], scorer if ids == all_ids else None)}


def point_row(offline_logs: Sequence[StreamLog], annotations: Any, point: SweepPoint, *,
              caches: Sequence[CachedFrames] | None = None, eta: float = 0.0, seed: int = 0,
              timing: str = "exact", scorer: Scorer | None = None) -> dict:
    """One point simulated from the every-frame pass, paired and scored (AP in percent)."""
    check_compatible(offline_logs, annotations)
    caches = frame_caches(offline_logs) if caches is None else caches
    ids = [i for log in offline_logs for i in log.image_ids]
    logs = simulate_point(offline_logs, caches, point, seed=seed, timing=timing)
    return {**asdict(point), "eta": eta, **_paired(logs, annotations, ids, point.forecast, eta, scorer)}


def _paired(logs: Sequence[StreamLog], annotations: Any, ids: list[int], forecast: str, eta: float,
            scorer: Scorer | None) -> dict:
    """Association stats and AP of `logs` paired under `forecast`."""
    pairings = pair_logs(logs, eta=eta, forecast=forecast, annotations=annotations)
    answered = [b for p in pairings for b in p.frames_behind.tolist() if b == b]
    return {"processed": sum(len(log.outputs) for log in logs),
            "missed": sum(p.missed for p in pairings), "in_time": sum(p.in_time for p in pairings),
            "mean_frames_behind": sum(answered) / len(answered) if answered else None,
            **_scores(annotations, ids, [d for p in pairings for d in p.predictions], scorer)}


def sweep(offline_logs: Sequence[StreamLog], annotations: Any, points: Sequence[SweepPoint], *,
          eta: float = 0.0, seed: int = 0, timing: str = "exact") -> list[dict]:
    """One row per point (plus the offline reference): AP numbers (percent, None where undefined)
    and association stats."""
    check_compatible(offline_logs, annotations)
    caches = frame_caches(offline_logs)
    scorer = scorer_for(annotations, [i for log in offline_logs for i in log.image_ids])
    return [offline_row(offline_logs, annotations, caches, scorer=scorer),
            *(point_row(offline_logs, annotations, p, caches=caches, eta=eta, seed=seed, timing=timing,
                        scorer=scorer) for p in points)]


def stream_rows(logs: Sequence[StreamLog], annotations: Any, forecasts: Sequence[str], *,
                eta: float = 0.0, source: str = "") -> list[dict]:
    """Rows of a recorded stream (streaming.run's logs at their own latency and policy), paired
    under each forecast; a learned forecaster's (meta forecast_frames > 0) are labelled
    "learned" / "learned + FORECAST"."""
    check_compatible(logs, annotations)
    first = logs[0]
    if any((log.latency, log.policy, log.perf_factor) != (first.latency, first.policy, first.perf_factor)
           for log in logs):
        raise ValueError(f"{source or 'stream'}: its logs were recorded at different latencies or policies")
    learned = any(log.forecast_frames > 0 for log in logs)
    ids = [i for log in logs for i in log.image_ids]
    scorer = scorer_for(annotations, ids)
    rows = []
    for forecast in forecasts:
        label = forecast if not learned else "learned" if forecast == "none" else f"learned + {forecast}"
        rows.append({"latency": first.latency, "policy": first.policy, "forecast": label,
                     "perf_factor": first.perf_factor, "eta": eta, "source": source,
                     **_paired(logs, annotations, ids, forecast, eta, scorer)})
    return rows


def format_sweep(rows: Sequence[dict]) -> str:
    header = ["latency", "policy", "forecast", "perf", *SUMMARY_KEYS[:3], "missed", "in time", "frames behind"]
    body = [[r["latency"], r["policy"], forecast_method(r["forecast"]), f"{r['perf_factor']:g}",
             *(r[k] for k in SUMMARY_KEYS[:3]), r["missed"], r["in_time"],
             None if r["mean_frames_behind"] is None else f"{r['mean_frames_behind']:.2f}"] for r in rows]
    return "# Streaming sweep\n\n" + format_table(header, body) + "\n"


def plot_sweep(rows: Sequence[dict], path: Path) -> Path | None:
    """sAP against fixed latency (ms), one line per policy / forecast / perf factor."""
    from matplotlib.figure import Figure

    fixed = [r for r in rows if str(r["latency"]).startswith("fixed:") and r["AP"] is not None]
    if not fixed:
        return None
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for key, group in itertools.groupby(sorted(fixed, key=lambda r: (r["policy"], r["forecast"], r["perf_factor"])),
                                        key=lambda r: (r["policy"], r["forecast"], r["perf_factor"])):
        pts = sorted((float(r["latency"].split(":", 1)[1]) * 1000, r["AP"]) for r in group)
        ax.plot(*zip(*pts), marker="o", label=f"{key[0]}, forecast {key[1]}, x{key[2]:g}")
    offline = next((r["AP"] for r in rows if r["latency"] == "offline"), None)
    if offline is not None:
        ax.axhline(offline, color="k", linestyle="--", linewidth=0.8, label="offline AP")
    ax.set_xlabel("detector latency (ms)")
    ax.set_ylabel("streaming AP")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    return path


def main(argv: list[str] | None = None) -> int:
    """Bad input raises (ValueError / FileNotFoundError); `run_command` turns it into exit 2."""
    ap = argparse.ArgumentParser(prog="python -m eval_streaming.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="run folder with offline/*.jsonl")
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--latency", nargs="+", required=True)
    ap.add_argument("--policy", nargs="+", default=["greedy"], choices=POLICIES)
    ap.add_argument("--forecast", nargs="+", default=["none"], choices=FORECAST_METHODS)
    ap.add_argument("--timing", default="exact", choices=TIMING_MODES)
    ap.add_argument("--perf-factor", nargs="+", type=float, default=[1.0])
    ap.add_argument("--eta", type=eta_arg, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stream", nargs="+", default=[], metavar="RUN",
                    help="streaming.run folders of a learned forecaster (StreamYOLO), one per latency: "
                         "scored as recorded under each --forecast")
    ap.add_argument("--out", default=None, help="default: RUN/sweep")
    args = ap.parse_args(argv)
    points = [SweepPoint(*p) for p in itertools.product(args.latency, args.policy, args.forecast, args.perf_factor)]
    check_run_complete(Path(args.run))
    offline_logs = read_logs(Path(args.run) / "offline")
    annotations = load_annotations(args.annotations)
    rows = sweep(offline_logs, annotations, points, eta=args.eta, seed=args.seed, timing=args.timing)
    for run in args.stream:
        check_run_complete(Path(run))
        rows += stream_rows(read_logs(Path(run) / "logs"), annotations, args.forecast, eta=args.eta, source=run)
    out = Path(args.out) if args.out else Path(args.run) / "sweep"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.md").write_text(format_sweep(rows))
    (out / "sweep.json").write_text(json.dumps(rows, indent=1, allow_nan=False) + "\n")
    plot_sweep(rows, out / "sweep.png")
    print(format_sweep(rows))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
