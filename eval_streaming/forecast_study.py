"""How much of the latency loss a forecaster recovers, measured with the oracle detector.

The oracle (streaming.oracle) detects every object exactly, so at zero latency sAP is 100 and
every point lost at a latency of k frames is lost to the world moving on. Each forecaster then
sees the same simulated outputs (fixed latency, greedy schedule, the project's scheduler and
pairing) and is scored with the same COCOeval:

    recovered = (sAP_forecast(k) - sAP_none(k)) / (sAP_none(0) - sAP_none(k))

1.0 means the forecaster undoes the whole latency loss, 0 means it does as well as showing
stale boxes, a negative share means it does worse. Two references bound what any forecaster can
recover (`references=True`), both using the world's track ids, which no forecaster sees:

- "linear (ids)": constant velocity in pixels from the last two processed frames, perfectly
  associated: the ceiling of the constant-velocity model class the Kalman filters belong to;
- "ideal (ids)": every object of the latest processed frame at its true place at query time: all
  that forecasting can recover (objects that appeared since are lost to latency whatever it does). Used by benchmarks/oracle_forecast.py and
its test; the forecasters are ForecastConfigs so that tuned settings can be compared.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from data.coco_eval import Scorer, results_array
from data.detections import Detections
from eval_streaming.evaluate import evaluate_logs, image_size_of, pair_logs
from streaming.latency import parse_latency
from streaming.log import StreamLog
from streaming.oracle import oracle_detections
from streaming.simulate import CachedFrames, offline_outputs, simulate_sequence
from trackers import FORECAST_METHODS, ForecastConfig


def oracle_logs(dataset: Any, fps: float) -> list[StreamLog]:
    """One zero-latency log per sequence whose outputs are the oracle's (every frame, at arrival)."""
    logs = []
    for seq in dataset.sequences:
        ids = [f.image_id for f in seq.frames]
        outputs = offline_outputs(oracle_detections(dataset, ids), fps)
        logs.append(StreamLog(seq.name, seq.sid, fps, len(ids), ids, list(dataset.classes), "offline", "offline",
                              outputs, meta={"model": "oracle"}))
    return logs


def simulate_latency(offline: Sequence[StreamLog], latency_frames: float, policy: str = "greedy") -> list[StreamLog]:
    """The offline logs re-streamed at a fixed latency of `latency_frames` frames."""
    out = []
    for log in offline:
        spec = f"fixed:{latency_frames / log.fps!r}"
        cache = CachedFrames([o.detections for o in log.outputs])
        run = simulate_sequence(cache, num_frames=log.num_frames, fps=log.fps, latency=parse_latency(spec),
                                policy=policy, key=log.sid)
        out.append(StreamLog(log.sequence, log.sid, log.fps, log.num_frames, log.image_ids, log.classes, spec,
                             policy, run.outputs))
    return out


def default_forecasters() -> dict[str, ForecastConfig]:
    """Every registered method with its default settings."""
    return {m: ForecastConfig(method=m) for m in FORECAST_METHODS}


def forecast_table(
    dataset: Any,
    *,
    fps: float = 30.0,
    latencies_frames: Sequence[float] = (0, 1, 3, 6),
    forecasters: Mapping[str, ForecastConfig] | None = None,
    references: bool = False,
) -> list[dict]:
    """Rows {latency_frames, forecast, AP, AP50, AP75, recovered} for every latency x forecaster.

    `forecasters` maps a display name to its config and must hold "none" (the reference of the
    recovered share); default: every registered method with default settings.
    """
    forecasters = dict(forecasters or default_forecasters())
    if "none" not in forecasters:
        raise ValueError("forecast_table: forecasters must include 'none', the reference of the recovered share")
    offline = oracle_logs(dataset, fps)
    rows = []
    for k in latencies_frames:
        logs = simulate_latency(offline, k)
        for name, cfg in forecasters.items():
            result, _ = evaluate_logs(logs, dataset, forecast=cfg)
            m = result.streaming
            rows.append({"latency_frames": k, "forecast": name, "AP": m.AP, "AP50": m.AP50, "AP75": m.AP75})
        if references:
            for name, m in reference_metrics(logs, dataset).items():
                rows.append({"latency_frames": k, "forecast": name, "AP": m.AP, "AP50": m.AP50, "AP75": m.AP75})
    ap = {(r["latency_frames"], r["forecast"]): r["AP"] for r in rows}
    zero = ap.get((0, "none"), 100.0)  # the oracle's zero-latency sAP, 100 when not measured
    for r in rows:
        loss = zero - ap[(r["latency_frames"], "none")]
        r["recovered"] = (r["AP"] - ap[(r["latency_frames"], "none")]) / loss if loss > 1e-6 else None
    return rows


def format_table(rows: Sequence[dict]) -> str:
    """Markdown: one row per latency, sAP and recovered share per forecaster."""
    names = list(dict.fromkeys(r["forecast"] for r in rows))
    head = "| latency (frames) | " + " | ".join(f"{n} sAP | {n} recovered" for n in names) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(names))]
    for k in dict.fromkeys(r["latency_frames"] for r in rows):
        cells = []
        for n in names:
            r = next(r for r in rows if r["latency_frames"] == k and r["forecast"] == n)
            share = "-" if r["recovered"] is None else f"{100 * r['recovered']:.0f} %"
            cells += [f"{r['AP']:.1f}", share]
        lines.append(f"| {k:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


REFERENCES = ("linear (ids)", "ideal (ids)")


def _tracks(dataset: Any, image_id: int) -> dict[int, tuple[np.ndarray, int]]:
    gt = dataset.ground_truth(image_id)
    if len(gt) and (gt.track_ids < 0).any():
        raise ValueError(f"image {image_id}: the reference forecasters need track ids on every annotation")
    return {int(t): (b.astype(np.float64), int(c)) for t, b, c in zip(gt.track_ids, gt.boxes, gt.labels)}


def reference_predictions(log: StreamLog, chosen: np.ndarray, dataset: Any, method: str) -> list[Detections]:
    """Per ground-truth frame of `log`: the boxes of a reference forecaster (see REFERENCES)."""
    frames = [_tracks(dataset, i) for i in log.image_ids]
    size = image_size_of(log, dataset)
    out = []
    for j, k in enumerate(chosen):
        if k < 0:
            out.append(Detections.empty())
            continue
        src = log.outputs[k].frame_index
        prev = frames[log.outputs[k - 1].frame_index] if k > 0 else {}
        boxes, labels = [], []
        for track, (box, label) in frames[src].items():
            if method == "ideal (ids)":
                if track not in frames[j]:
                    continue  # left the scene: no forecaster should report it
                box = frames[j][track][0]
            elif track in prev:
                gap = src - log.outputs[k - 1].frame_index
                box = box + (box - prev[track][0]) * (j - src) / gap
            if size is not None:
                box = np.clip(box, 0.0, [size[0], size[1], size[0], size[1]])
            if box[2] > box[0] and box[3] > box[1]:
                boxes.append(box)
                labels.append(label)
        out.append(Detections(np.array(boxes).reshape(-1, 4), np.ones(len(boxes)), np.array(labels, np.int64)))
    return out


def reference_metrics(logs: Sequence[StreamLog], dataset: Any) -> dict[str, Any]:
    """Streaming COCO metrics of each reference forecaster on these simulated logs."""
    pairings = pair_logs(logs, annotations=dataset)
    ids = [i for log in logs for i in log.image_ids]
    cats, classes = list(dataset.category_ids), list(dataset.classes)
    scorer = Scorer(dataset.coco, ids, category_ids=cats, class_names=classes)
    out = {}
    for method in REFERENCES:
        preds = [d for log, p in zip(logs, pairings) for d in reference_predictions(log, p.output_index, dataset, method)]
        out[method] = scorer.evaluate(results_array(ids, preds, cats))
    return out
