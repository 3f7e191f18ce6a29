"""Evaluation results as a table (report.md, stdout) and as JSON (report.json)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from eval_streaming.coco_metrics import SUMMARY_KEYS, CocoMetrics


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


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}"


def format_report(result: EvalResult) -> str:
    s = result.settings
    lines = [
        "# Streaming evaluation",
        "",
        f"latency `{s.get('latency', '?')}`, policy `{s.get('policy', '?')}`, perf factor "
        f"{s.get('perf_factor', 1.0)}, forecast `{s.get('forecast', 'none')}`, eta {s.get('eta', 0.0)}, "
        f"fps {s.get('fps', '?')}, sequences: {len(result.sequences)}",
        "",
    ]
    rows = [("streaming", result.streaming), ("offline", result.offline)]
    if any(m is not None for _, m in rows):
        lines += ["| metric | " + " | ".join(SUMMARY_KEYS) + " |",
                  "|---|" + "---|" * len(SUMMARY_KEYS)]
        for name, m in rows:
            if m is not None:
                lines.append(f"| {name} | " + " | ".join(_fmt(getattr(m, k)) for k in SUMMARY_KEYS) + " |")
        classes = list((result.streaming or result.offline).per_class)
        lines += ["", "| class | " + " | ".join(n for n, m in rows if m is not None) + " |",
                  "|---|" + "---|" * sum(m is not None for _, m in rows)]
        for c in classes:
            lines.append(f"| {c} | " + " | ".join(_fmt(m.per_class.get(c)) for _, m in rows if m is not None) + " |")
    else:
        lines.append("No annotations: no AP computed (pairing and submission only).")
    a = result.association
    lines += [
        "",
        "| frames | processed | missed | in time | mean frames behind | mean runtime (ms) |",
        "|---|---|---|---|---|---|",
        f"| {a['frames']} | {a['processed']} | {a['missed']} | {a['in_time']} | "
        f"{_fmt(a['mean_frames_behind'], 2)} | {_fmt(a['mean_runtime_ms'], 1)} |",
        "",
        "| sequence | frames | processed | missed | in time | mean frames behind |",
        "|---|---|---|---|---|---|",
    ]
    for q in result.sequences:
        lines.append(f"| {q['sequence']} | {q['frames']} | {q['processed']} | {q['missed']} | "
                     f"{q['in_time']} | {_fmt(q['mean_frames_behind'], 2)} |")
    return "\n".join(lines) + "\n"


def write_report(result: EvalResult, out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "report.md"
    js = out_dir / "report.json"
    md.write_text(format_report(result))
    js.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return md, js
