"""Scoring a run on footage without annotations: its report section and offline pseudo-labels.

Without ground truth a run still says what streaming cost: frames processed and dropped, how
far behind each shown result was, and the latency. `--pseudo-gt offline` adds a relative score:
the same model's own offline detections (every frame, zero latency) above a score threshold
are taken as labels and the streaming predictions are scored against them with COCO AP. The
number says how much of what the model sees offline survives streaming; it is reported as
"sAP vs offline pseudo-labels", in its own section and JSON key, never as AP.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from data.boxes import xyxy_to_xywh
from data.coco_eval import format_value, metrics_table
from eval_streaming.pairing import offline_predictions
from eval_streaming.report import EvalResult
from streaming.log import StreamLog

PSEUDO_GT_MODES = ("none", "offline")
PSEUDO_GT_SCORE = 0.5  # offline detections at least this confident become labels
PSEUDO_LABEL = "sAP vs offline pseudo-labels"


def pseudo_ground_truth(offline_logs: Sequence[StreamLog], size_wh: tuple[int, int], *,
                        min_score: float = PSEUDO_GT_SCORE) -> dict:
    """An Argoverse-HD style annotation dict whose boxes are the offline detections >= min_score."""
    if not offline_logs:
        raise ValueError("--pseudo-gt offline needs the every-frame pass (do not combine with --no-offline)")
    classes = offline_logs[0].classes
    images, annotations = [], []
    for log in offline_logs:
        for fid, (image_id, dets) in enumerate(zip(log.image_ids, offline_predictions(log.outputs, log.num_frames))):
            images.append({"id": image_id, "sid": log.sid, "fid": fid, "name": f"{fid}", "width": size_wh[0],
                           "height": size_wh[1]})
            if dets is None:
                continue
            keep = dets.select(dets.scores >= min_score)
            for box, label in zip(xyxy_to_xywh(keep.boxes), keep.labels):
                w, h = float(box[2]), float(box[3])
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(label),
                                    "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0})
    return {"images": images, "annotations": annotations,
            "categories": [{"id": i, "name": c} for i, c in enumerate(classes)],
            "sequences": [log.sequence for log in offline_logs], "seq_dirs": ["" for _ in offline_logs]}


def score_against_pseudo_gt(logs: Sequence[StreamLog], offline_logs: Sequence[StreamLog], size_wh: tuple[int, int],
                            *, eta: float = 0.0, forecast: Any = None, min_score: float = PSEUDO_GT_SCORE,
                            max_det: int = 100) -> dict:
    """{"label", "min_score", "labels", "metrics"}: the streaming predictions scored on pseudo-labels."""
    from eval_streaming.evaluate import CocoGroundTruth, evaluate_logs

    gt = CocoGroundTruth.from_dataset(pseudo_ground_truth(offline_logs, size_wh, min_score=min_score))
    result, _ = evaluate_logs(logs, gt, eta=eta, forecast=forecast, max_det=max_det)
    return {"label": PSEUDO_LABEL, "min_score": min_score, "labels": len(gt.coco.anns),
            "metrics": result.streaming.to_dict() if result.streaming else None, "_metrics": result.streaming}


def footage_summary(result: EvalResult, info: dict, warnings: Sequence[str]) -> dict:
    """What the report says about footage: source, frame times, processed / dropped, latency."""
    a = result.association
    return {"source": info, "frames": a["frames"], "processed": a["processed"],
            "dropped": a["frames"] - a["processed"], "missed": a["missed"],
            "mean_frames_behind": a["mean_frames_behind"], "mean_runtime_ms": a["mean_runtime_ms"],
            "warnings": list(warnings)}


def format_footage(summary: dict, pseudo: dict | None) -> str:
    info = summary["source"]
    lines = ["", "## Footage (no annotations: no AP)", "",
             f"source `{info.get('source')}` ({info.get('kind')}), {summary['frames']} frames at "
             f"{format_value(info.get('fps'), 3)} FPS, times: {info.get('times')}"]
    if info.get("resampled"):
        lines.append(f"{info['resampled']}: {info['repeated']} frame(s) repeated, {info['merged']} merged")
    lines += [f"processed {summary['processed']}, dropped {summary['dropped']}, no output yet at "
              f"{summary['missed']} frame(s), mean frames behind {format_value(summary['mean_frames_behind'], 2)}, "
              f"mean runtime {format_value(summary['mean_runtime_ms'], 1)} ms"]
    lines += [f"warning: {w}" for w in summary["warnings"]]
    if pseudo is not None:
        lines += ["", f"## {PSEUDO_LABEL} (not ground truth)", "",
                  f"labels: the same model's offline detections with score >= {pseudo['min_score']} "
                  f"({pseudo['labels']} boxes)", "",
                  metrics_table({PSEUDO_LABEL: pseudo["_metrics"]}) or "no labels: nothing to score"]
    return "\n".join(lines) + "\n"


def append_footage_report(out: str | Path, summary: dict, pseudo: dict | None) -> None:
    """Add the footage section (and pseudo-label score) to report.md and report.json."""
    out = Path(out)
    with (out / "report.md").open("a") as f:
        f.write(format_footage(summary, pseudo))
    data = json.loads((out / "report.json").read_text())
    data["footage"] = summary
    if pseudo is not None:
        data["pseudo_gt"] = {k: v for k, v in pseudo.items() if not k.startswith("_")}
    (out / "report.json").write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")

