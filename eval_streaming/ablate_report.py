"""The ablation's table and plots: one row per (pass, point), the accuracy-latency frontier,
and the best configuration under each latency budget.

A row's `runtime_ms` is the detector runtime its latency model stands for, after the perf
factor: a fixed latency's value, a profile's mean, or the pass's measured mean for `measured`.
It is the x axis of the plots and what a latency budget bounds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data.coco_eval import format_table
from eval_streaming.ablate_config import OWN_PROFILE
from eval_streaming.evaluate import forecast_method
from streaming.latency import parse_latency

COLUMNS = ("model", "input_size", "backend", "precision", "latency", "policy", "forecast", "perf_factor", "sAP",
           "AP50", "offline_AP", "mean_runtime_ms", "runtime_ms", "mean_frames_behind", "dropped", "missed")


def _runtime_ms(latency: str, perf_factor: float, measured_mean_s: float | None) -> float | None:
    if latency in ("measured", OWN_PROFILE):
        return None if measured_mean_s is None else measured_mean_s / perf_factor * 1000
    expected = parse_latency(latency, perf_factor=perf_factor).expected_runtime()
    return None if expected is None else expected * 1000


def table_rows(passes: Sequence[Any], points: Sequence[Any], scored: dict) -> list[dict]:
    """Rows in grid order (pass, then point); `scored[(p, q)]` are the score tasks' rows, q = 0
    the pass's offline row."""
    rows = []
    for p, rec in enumerate(passes):
        offline = scored[(p, 0)]
        mean_s = float(np.mean(rec.measured)) if rec.measured else None
        frames = offline["processed"]
        for q, point in enumerate(points[1:], start=1):
            r = scored[(p, q)]
            rows.append({
                "model": rec.spec.model or "demo", "input_size": "x".join(map(str, rec.input_hw)) or "-",
                "backend": rec.spec.backend, "precision": rec.spec.precision or "-", "latency": point.latency,
                "policy": point.policy, "forecast": forecast_method(point.forecast), "perf_factor": point.perf_factor,
                "sAP": r["AP"], "AP50": r["AP50"], "offline_AP": offline["AP"],
                "mean_runtime_ms": None if mean_s is None else mean_s * 1000,
                "runtime_ms": _runtime_ms(point.latency, point.perf_factor, mean_s),
                "mean_frames_behind": r["mean_frames_behind"], "dropped": frames - r["processed"],
                "missed": r["missed"], "frames": frames, "pass": rec.digest[:12],
            })
    return rows


def _fmt(v: Any) -> Any:
    return f"{v:.2f}" if isinstance(v, float) else v


def pareto_front(rows: Sequence[dict]) -> list[dict]:
    """Rows no other row beats on both runtime (lower) and sAP (higher), by increasing runtime."""
    valid = sorted((r for r in rows if r["sAP"] is not None and r["runtime_ms"] is not None),
                   key=lambda r: (r["runtime_ms"], -r["sAP"]))
    front, best = [], -np.inf
    for r in valid:
        if r["sAP"] > best:
            front.append(r)
            best = r["sAP"]
    return front


def best_per_budget(rows: Sequence[dict]) -> list[tuple[float, dict]]:
    """For each distinct runtime in the table (a budget), the best row whose runtime fits it."""
    front = pareto_front(rows)
    return [(r["runtime_ms"], r) for r in front]


def config_label(r: dict) -> str:
    return (f"{r['model']} {r['input_size']} {r['backend']}{'' if r['precision'] == '-' else ':' + r['precision']}"
            f" / {r['latency']} / {r['policy']} / {r['forecast']} / x{r['perf_factor']:g}")


def table_markdown(rows: Sequence[dict]) -> str:
    header = ["model", "size", "backend", "precision", "latency", "policy", "forecast", "perf", "sAP", "AP50",
              "offline AP", "mean runtime ms", "runtime ms", "frames behind", "dropped", "missed"]
    body = [[_fmt(r[c]) for c in COLUMNS] for r in rows]
    budget = [[f"{b:.1f}", config_label(r), _fmt(r["sAP"])] for b, r in best_per_budget(rows)]
    return ("# Latency-budget ablation\n\n" + format_table(header, body, digits=2) + "\n\n"
            "## Best configuration per latency budget\n\n(runtime budget in ms: the best sAP whose detector "
            "runtime fits it; the accuracy-latency frontier)\n\n"
            + format_table(["budget ms", "configuration", "sAP"], budget, digits=2) + "\n")


def plot_ablation(rows: Sequence[dict], out: Path) -> list[Path]:
    """ablation_runtime.png (sAP against runtime, one marker per pass), ablation_frontier.png
    (the Pareto frontier over all rows) and ablation_budget.png (best sAP under each budget)."""
    from matplotlib.figure import Figure

    valid = [r for r in rows if r["sAP"] is not None and r["runtime_ms"] is not None]
    if not valid:
        return []
    paths = []
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.subplots()
    # colour: the pass (model, size, backend); marker: the forecast. No lines: points of one pass
    # at the same runtime (measured and profile latency) differ in timing, not in speed.
    passes = list(dict.fromkeys((r["model"], r["input_size"], r["backend"], r["precision"]) for r in valid))
    forecasts = list(dict.fromkeys(r["forecast"] for r in valid))
    for i, key in enumerate(passes):
        for j, forecast in enumerate(forecasts):
            group = [r for r in valid if (r["model"], r["input_size"], r["backend"], r["precision"]) == key
                     and r["forecast"] == forecast]
            if group:
                ax.scatter([r["runtime_ms"] for r in group], [r["sAP"] for r in group], color=f"C{i % 10}",
                           marker="os^Dv"[j % 5], label=" ".join(str(k) for k in (*key, forecast) if k != "-"))
    ax.set_xlabel("detector runtime (ms, after perf factor)")
    ax.set_ylabel("streaming AP")
    ax.legend(fontsize=6)
    fig.savefig(out / "ablation_runtime.png", dpi=100)
    paths.append(out / "ablation_runtime.png")

    front = pareto_front(valid)
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.subplots()
    ax.scatter([r["runtime_ms"] for r in valid], [r["sAP"] for r in valid], s=12, color="0.6", label="configuration")
    ax.step([r["runtime_ms"] for r in front], [r["sAP"] for r in front], where="post", color="C3", marker="o",
            label="accuracy-latency frontier")
    for r in front:
        ax.annotate(config_label(r), (r["runtime_ms"], r["sAP"]), fontsize=5, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("detector runtime (ms, after perf factor)")
    ax.set_ylabel("streaming AP")
    ax.legend(fontsize=7)
    fig.savefig(out / "ablation_frontier.png", dpi=100)
    paths.append(out / "ablation_frontier.png")

    fig = Figure(figsize=(7.5, 0.6 + 0.35 * len(front)), layout="constrained")
    ax = fig.subplots()
    labels = [f"<= {b:.1f} ms" for b, _ in best_per_budget(valid)]
    ax.barh(labels, [r["sAP"] for r in front], color="C0")
    for i, r in enumerate(front):
        ax.text(r["sAP"], i, " " + config_label(r), va="center", fontsize=6)
    ax.set_xlabel("best streaming AP within the runtime budget")
    fig.savefig(out / "ablation_budget.png", dpi=100)
    paths.append(out / "ablation_budget.png")
    return paths
