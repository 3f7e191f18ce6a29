"""Evaluation results as tables (report.md, stdout) and as JSON (report.json); AP in percent,
undefined AP as "-" / null (data.coco_eval's conventions)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from data.coco_eval import CocoMetrics, format_table, format_value, metrics_table


@dataclass
class EvalResult:
    streaming: CocoMetrics | None  # None: no annotations (e.g. a test split)
    offline: CocoMetrics | None  # None: detections of every frame not available
    association: dict
    sequences: list[dict]
    settings: dict
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "settings": self.settings,
            "streaming": self.streaming.to_dict() if self.streaming else None,
            "offline": self.offline.to_dict() if self.offline else None,
            "association": self.association,
            "sequences": self.sequences,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def format_report(result: EvalResult) -> str:
    s = result.settings
    lines = [
        "# Streaming evaluation",
        "",
        f"latency `{s.get('latency', '?')}`, policy `{s.get('policy', '?')}`, perf factor "
        f"{s.get('perf_factor', 1.0)}, forecast `{s.get('forecast', 'none')}`, eta {s.get('eta', 0.0)}, "
        f"fps {s.get('fps', '?')}, sequences: {len(result.sequences)}",
        "",
        metrics_table({"streaming": result.streaming, _offline_label(s): result.offline})
        or "No annotations: no AP computed (pairing and submission only).",
    ]
    a = result.association
    lines += [
        "",
        format_table(["frames", "processed", "missed", "in time", "mean frames behind", "mean runtime (ms)"],
                     [[a["frames"], a["processed"], a["missed"], a["in_time"],
                       format_value(a["mean_frames_behind"], 2), a["mean_runtime_ms"]]]),
        "",
        format_table(["sequence", "frames", "processed", "missed", "in time", "mean frames behind"],
                     [[q["sequence"], q["frames"], q["processed"], q["missed"], q["in_time"],
                       format_value(q["mean_frames_behind"], 2)] for q in result.sequences]),
    ]
    return "\n".join(lines) + "\n"


def _offline_label(settings: dict) -> str:
    """A learned forecaster's offline row is its next-frame AP (eval_streaming.pairing.offline_targets)."""
    return "offline (next frame)" if settings.get("offline_target") == "next frame" else "offline"


def write_report(result: EvalResult, out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "report.md"
    js = out_dir / "report.json"
    md.write_text(format_report(result))
    js.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    return md, js
