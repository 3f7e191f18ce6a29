"""Score stream logs: pairing, streaming AP, offline AP, association stats, submission files.

    python -m eval_streaming.evaluate --log RUN_DIR --annotations FILE [--eta 0] [--forecast none|kalman]

re-scores a saved run (RUN_DIR/logs/*.jsonl; RUN_DIR/offline/*.jsonl give offline AP) and
writes report.md + report.json next to the logs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data.cli import run_command
from data.coco_eval import Scorer, results_array, results_records
from data.detections import Detections
from eval_streaming.pairing import MAX_DET, Pairing, offline_predictions, offline_targets, pair_outputs
from eval_streaming.report import EvalResult, format_report, write_report
from streaming.log import StreamLog, read_logs
from streaming.scheduler import check_eta
from streaming.run_folder import check_run_complete
from trackers import FORECAST_METHODS


def forecast_method(forecast: Any) -> str:
    if forecast is None:
        return "none"
    return forecast if isinstance(forecast, str) else str(getattr(forecast, "method", "none"))


def make_forecaster(forecast: Any, image_size: tuple[int, int] | None = None):
    """A forecaster from a trackers.ForecastConfig or a method name; None for "none".

    image_size (W, H) lets it clip forecast boxes to the frame."""
    method = forecast_method(forecast)
    if method == "none":
        return None
    from trackers import ForecastConfig, build_forecaster

    cfg = forecast if isinstance(forecast, ForecastConfig) else ForecastConfig(method=method)
    return build_forecaster(cfg, image_size=image_size)


@dataclass
class CocoGroundTruth:
    """Any COCO-format ground truth: its COCO object (data.coco.build_coco), class names, their
    category ids and, for Argoverse-HD style files, the sequence names images' `sid` index."""

    coco: Any
    classes: tuple[str, ...]
    category_ids: list[int]
    has_annotations: bool = True
    sequences: tuple[str, ...] | None = None

    @classmethod
    def from_dataset(cls, dataset: dict) -> "CocoGroundTruth":
        from data.coco import build_coco

        coco = build_coco(dataset)
        cats = sorted(dataset.get("categories", []), key=lambda c: c["id"])
        names = dataset.get("sequences")
        return cls(coco, tuple(c["name"] for c in cats), [c["id"] for c in cats], "annotations" in dataset,
                   tuple(names) if names is not None else None)


def load_annotations(path: str | Path):
    """Argoverse-HD style annotations (validated by the dataset reader; images not needed)."""
    from data.argoverse import ArgoverseHD

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file not found")
    return ArgoverseHD(path, path.parent, check_images=False)


def sequence_names(annotations: Any) -> list[str] | None:
    """The annotations' sequence names by sid (ArgoverseHD sequences or a `sequences` list)."""
    seqs = getattr(annotations, "sequences", None)
    return None if seqs is None else [getattr(s, "name", s) for s in seqs]


def check_compatible(logs: Sequence[StreamLog], annotations) -> None:
    """Refuse logs that were not made on these annotations: other classes, unknown image ids,
    or (integer image ids overlap between datasets) a sequence name or sid that differs."""
    classes = tuple(annotations.classes)
    names = sequence_names(annotations)
    where_file = getattr(annotations, "annotation_file", "the annotations")
    for log in logs:
        where = f"stream log of sequence {log.sequence!r}"
        if tuple(log.classes) != classes:
            raise ValueError(f"{where}: classes {log.classes} differ from the annotations' {list(classes)}")
        if len(log.image_ids) != log.num_frames:
            raise ValueError(f"{where}: has no image ids, cannot be matched to annotations")
        if names is not None and log.sequence not in names:
            raise ValueError(f"{where}: {where_file} has no such sequence (it has {len(names)}, e.g. "
                             f"{names[0] if names else 'none'}); were the logs made on another dataset?")
        if names is not None and not (0 <= log.sid < len(names) and names[log.sid] == log.sequence):
            raise ValueError(f"{where}: has sid {log.sid} but in {where_file} it is sid {names.index(log.sequence)}")
        imgs = annotations.coco.imgs
        unknown = [i for i in log.image_ids if i not in imgs]
        if unknown:
            raise ValueError(f"{where}: image id {unknown[0]} is not in the annotations")
        foreign = [i for i in log.image_ids if imgs[i].get("sid", log.sid) != log.sid]
        if foreign:
            raise ValueError(f"{where}: image id {foreign[0]} belongs to sid {imgs[foreign[0]]['sid']} "
                             f"in {where_file}, not to this sequence (sid {log.sid})")


def image_size_of(log: StreamLog, annotations: Any) -> tuple[int, int] | None:
    """(W, H) of a sequence's first frame from the annotations, if they say."""
    if annotations is None or not log.image_ids:
        return None
    info = annotations.coco.imgs.get(log.image_ids[0], {})
    return (int(info["width"]), int(info["height"])) if "width" in info and "height" in info else None


def pair_logs(logs: Sequence[StreamLog], *, eta: float = 0.0, forecast: Any = None,
              annotations: Any = None, max_det: int = MAX_DET) -> list[Pairing]:
    """Each log paired in the timing mode it was simulated in (exact or the toolkit's floats)."""
    check_eta(eta)
    return [
        pair_outputs(log.outputs, num_frames=log.num_frames, fps=log.fps, eta=eta, timing=log.timing,
                     max_det=max_det, forecaster=make_forecaster(forecast, image_size_of(log, annotations)),
                     forecast_frames=log.forecast_frames)
        for log in logs
    ]


def _offline_frames(log: StreamLog, offline: StreamLog | None) -> list[Detections] | None:
    """Each frame's own detections, from the offline log or from a stream that processed all."""
    source = offline if offline is not None else log
    frames = offline_predictions(source.outputs, log.num_frames)
    if any(f is None for f in frames):
        return None if offline is None else [f if f is not None else Detections.empty() for f in frames]
    return frames  # type: ignore[return-value]


def _association(logs: Sequence[StreamLog], pairings: Sequence[Pairing]) -> tuple[dict, list[dict]]:
    per_seq = []
    behind_all = []
    for log, p in zip(logs, pairings):
        behind = p.frames_behind
        answered = behind[~np.isnan(behind)]
        behind_all.append(answered)
        per_seq.append({
            "sequence": log.sequence, "sid": log.sid, "frames": p.num_frames,
            "processed": len(log.outputs), "missed": p.missed, "in_time": p.in_time,
            "mean_frames_behind": float(answered.mean()) if answered.size else None,
        })
    behind = np.concatenate(behind_all) if behind_all else np.zeros(0)
    runtimes = [o.runtime for log in logs for o in log.outputs]
    total = {
        "frames": sum(q["frames"] for q in per_seq),
        "processed": sum(q["processed"] for q in per_seq),
        "missed": sum(q["missed"] for q in per_seq),
        "in_time": sum(q["in_time"] for q in per_seq),
        "mean_frames_behind": float(behind.mean()) if behind.size else None,
        "mean_runtime_ms": float(np.mean(runtimes)) * 1000 if runtimes else None,
    }
    return total, per_seq


def evaluate_logs(
    logs: Sequence[StreamLog],
    annotations,
    *,
    eta: float = 0.0,
    forecast: Any = None,
    offline_logs: Sequence[StreamLog] | None = None,
    max_det: int = MAX_DET,
) -> tuple[EvalResult, list[Pairing]]:
    """Streaming AP (and offline AP when every frame's detections exist) over all sequences."""
    if not logs:
        raise ValueError("no stream logs to evaluate")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if annotations is not None:
        check_compatible(logs, annotations)
    pairings = pair_logs(logs, eta=eta, forecast=forecast, annotations=annotations, max_det=max_det)
    timings["pairing"] = time.perf_counter() - t0
    association, per_seq = _association(logs, pairings)
    first = logs[0]
    settings = {
        "eta": eta, "forecast": forecast_method(forecast), "fps": first.fps, "latency": first.latency,
        "policy": first.policy, "perf_factor": first.perf_factor, "seed": first.seed,
        "timing": first.timing, "max_det": max_det,
    }
    streaming = offline = None
    if annotations is not None and getattr(annotations, "has_annotations", True):
        t0 = time.perf_counter()
        cats, classes = list(annotations.category_ids), list(annotations.classes)
        ids = [i for log in logs for i in log.image_ids]
        rows = {"streaming": results_array(ids, [d for p in pairings for d in p.predictions], cats)}
        by_name = {(o.sequence, o.sid): o for o in (offline_logs or [])}
        offline_frames = [_offline_frames(log, by_name.get((log.sequence, log.sid))) for log in logs]
        offline_ids: list[int] = []
        if all(f is not None for f in offline_frames):
            targets = [offline_targets(log.image_ids, f, log.forecast_frames) for log, f in zip(logs, offline_frames)]
            offline_ids = [i for t in targets for i in t[0]]
            rows["offline"] = results_array(offline_ids, [d.top(max_det) for t in targets for d in t[1]], cats)
        if any(log.forecast_frames for log in logs):
            settings["offline_target"] = "next frame"
        timings["results"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        scorer = Scorer(annotations.coco, ids, category_ids=cats, class_names=classes)
        if "offline" in rows and offline_ids != ids:  # next-frame AP: not on the sequences' first frames
            metrics = {"streaming": scorer.evaluate(rows["streaming"]),
                       "offline": Scorer(annotations.coco, offline_ids, category_ids=cats,
                                         class_names=classes).evaluate(rows["offline"])}
        else:
            metrics = scorer.evaluate_many(rows)
        timings["cocoeval"] = time.perf_counter() - t0
        streaming, offline = metrics["streaming"], metrics.get("offline")
    result = EvalResult(streaming, offline, association, per_seq, settings, timings)
    return result, pairings


def submission_records(
    logs: Sequence[StreamLog], pairings: Sequence[Pairing], category_ids: Sequence[int]
) -> list[dict]:
    """Leaderboard format: COCO results for every frame after pairing."""
    ids = [i for log in logs for i in log.image_ids]
    preds = [d for p in pairings for d in p.predictions]
    if len(ids) != len(preds):
        raise ValueError("submission needs image ids for every frame in the stream logs")
    return results_records(results_array(ids, preds, category_ids))


def write_submission(path: str | Path, records: list[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, separators=(",", ":")))
    return path


def run_folder(location: str | Path) -> Path:
    """The run folder of a --log argument: RUN, RUN/logs or one log file inside either."""
    location = Path(location)
    run_dir = location if location.is_dir() else location.parent
    return run_dir.parent if run_dir.name == "logs" else run_dir


def eta_arg(text: str) -> float:
    """argparse type for --eta: finite and >= -1 (NaN or inf would silently pair every frame
    with nothing)."""
    try:
        return check_eta(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e) if "finite" in str(e) else f"not a number: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Bad input raises (ValueError / FileNotFoundError); `run_command` turns it into exit 2."""
    ap = argparse.ArgumentParser(prog="python -m eval_streaming.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--log", required=True, help="run folder, logs folder or one stream log file")
    ap.add_argument("--annotations", required=True, help="Argoverse-HD style annotation JSON")
    ap.add_argument("--eta", type=eta_arg, default=0.0,
                    help="the sAP toolkit's --eta: frame j is scored at (j - eta) / fps; -1 = one frame later")
    ap.add_argument("--forecast", default="none", choices=FORECAST_METHODS)
    ap.add_argument("--max-det", type=int, default=MAX_DET, help="detections kept per frame (the challenge: 100)")
    ap.add_argument("--out", default=None, help="report folder (default: the run folder)")
    ap.add_argument("--submission", default=None, help="also write paired results as a COCO results list")
    args = ap.parse_args(argv)
    location = Path(args.log)
    run_dir = run_folder(location)
    check_run_complete(run_dir)  # an interrupted run is refused, not scored as if complete
    logs = read_logs(location)
    offline_dir = run_dir / "offline"
    offline_logs = read_logs(offline_dir) if offline_dir.is_dir() else None
    annotations = load_annotations(args.annotations)
    result, pairings = evaluate_logs(logs, annotations, eta=args.eta, forecast=args.forecast,
                                     offline_logs=offline_logs, max_det=args.max_det)
    if args.submission:
        write_submission(args.submission, submission_records(logs, pairings, annotations.category_ids))
    out = Path(args.out) if args.out else run_dir
    write_report(result, out)
    print(format_report(result))
    print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
