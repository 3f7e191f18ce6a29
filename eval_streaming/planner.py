"""Which configuration to deploy on given hardware, and the command that reproduces its score.

    python -m eval_streaming.planner --ablation runs/ablation [--profile FILE | --profile PASS=FILE ...] \\
        [--perf-factor 1.5] [--budget 40] [--out DIR]

From an ablation folder (`python -m eval_streaming.ablate`), every pass's every-frame detections
are simulated with `profile:` latency (runtimes drawn from a measured profile with the seed, as
`streaming.run --latency profile:FILE` draws them) under each policy and forecast of the
ablation, and scored. The profile is the pass's own (measured on this machine during the
ablation) or --profile: a runtime_profile.json from the target hardware, for every pass or, as
PASS=FILE, for the pass with that index in ablation.json. --perf-factor divides the runtimes
(hardware that much faster); --budget (ms) keeps only configurations whose mean runtime fits.

Writes plan.md and plan.json to --out (default ABLATION/plan), with each pass's profile copied
beside them, and prints the best configuration, its predicted sAP and the exact `python -m
streaming.run` command that reproduces it: the same model file, input size, backend and
precision, the copied profile, perf factor, policy, forecast, seed and data. streaming.run
re-runs the detector on every frame and replays those detections through the same simulator
and scoring, so it gets the predicted sAP exactly when the detector's outputs repeat (the same
backend on the same kind of machine).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Sequence

from data.cli import check_output_dir, run_command
from data.coco_eval import format_table
from data.config import load_config
from eval_streaming.ablate_config import AblationConfig
from eval_streaming.ablate_tasks import ScoreJob, score
from eval_streaming.sweep import SweepPoint
from streaming.latency import load_profile


def read_ablation(folder: Path) -> tuple[dict, AblationConfig]:
    path = folder / "ablation.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not an ablation folder (run python -m eval_streaming.ablate first)")
    try:
        data = json.loads(path.read_text())
        data["passes"], data["settings"], data["dataset"]  # noqa: B018 - the keys the planner reads
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: malformed ablation results ({e})") from None
    return data, load_config(AblationConfig, folder / "config.yaml")


def profiles_for(passes: list[dict], given: Sequence[str]) -> list[str]:
    """The profile file of each pass: its own, or --profile's (FILE for all, PASS=FILE for one)."""
    chosen = [p["profile"] for p in passes]
    for item in given:
        index, sep, file = item.partition("=")
        if not sep:
            chosen = [item] * len(passes)
            continue
        if not index.isdigit() or int(index) >= len(passes):
            raise ValueError(f"--profile {item!r}: PASS must be a pass index 0..{len(passes) - 1} of ablation.json")
        chosen[int(index)] = file
    for file in chosen:
        load_profile(file)  # a missing or malformed profile fails here, naming the file
    return chosen


def stream_command(p: dict, row: dict, settings: dict, dataset: dict, profile: str, out: str) -> list[str]:
    """The `python -m streaming.run` argv that reproduces a planned configuration."""
    argv = ["python", "-m", "streaming.run", "--model", p["model_file"],
            "--input-size", *map(str, p["input_hw"]), "--backend", p["backend"]]
    if p["precision"]:
        argv += ["--precision", p["precision"]]
    argv += ["--latency", f"profile:{profile}", "--perf-factor", f"{row['perf_factor']!r}",
             "--policy", row["policy"], "--forecast", row["forecast"], "--seed", str(settings["seed"]),
             "--eta", repr(settings["eta"]), "--timing", settings["timing"], "--fps", repr(settings["fps"]),
             "--device", settings["device"], "--data", dataset["root"], "--annotations", dataset["annotations"],
             "--max-sequences", str(len(dataset["sequences"])), "--max-frames", str(settings["max_frames"]),
             "--set", f"conf_thresh={settings['conf_thresh']!r}", "--set", f"nms_thresh={settings['nms_thresh']!r}",
             "--out", out]
    return argv


def plan(folder: Path, *, profiles: Sequence[str] = (), perf_factor: float = 1.0, budget_ms: float | None = None,
         out: Path | None = None) -> dict:
    """Score every (pass, policy, forecast) with profile latency; the best row and its command."""
    if not perf_factor > 0:
        raise ValueError(f"--perf-factor must be positive, got {perf_factor}")
    data, cfg = read_ablation(folder)
    out = check_output_dir(out if out is not None else folder / "plan", "--out")
    passes, settings, dataset = data["passes"], data["settings"], data["dataset"]
    chosen = profiles_for(passes, profiles)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    from tqdm import tqdm

    jobs = [(i, policy, forecast) for i in range(len(passes)) for policy in cfg.policies for forecast in cfg.forecasts]
    for i, policy, forecast in tqdm(jobs, desc="planning", unit="config", leave=False):
        p = passes[i]
        profile = out / f"profile_pass{i}.json"
        if Path(chosen[i]).resolve() != profile.resolve():
            shutil.copyfile(chosen[i], profile)
        spec = f"profile:{profile.absolute()}"
        row = score(ScoreJob(tuple(p["log_files"]), dataset["annotations"], SweepPoint(spec, policy, forecast,
                                                                                        float(perf_factor)),
                             spec, settings["eta"], settings["seed"], settings["timing"]))
        mean_ms = float(sum(load_profile(profile)) / len(load_profile(profile))) * 1000 / perf_factor
        rows.append({"pass": i, "label": p["label"], "policy": policy, "forecast": forecast,
                     "perf_factor": float(perf_factor), "profile": str(profile.absolute()), "runtime_ms": mean_ms,
                     "sAP": row["AP"], "AP50": row["AP50"], "missed": row["missed"],
                     "mean_frames_behind": row["mean_frames_behind"]})
    fitting = [r for r in rows if r["sAP"] is not None and (budget_ms is None or r["runtime_ms"] <= budget_ms)]
    if not fitting:
        raise ValueError(f"no configuration has an sAP{'' if budget_ms is None else f' within {budget_ms} ms'}")
    best = max(fitting, key=lambda r: (r["sAP"], -r["runtime_ms"]))  # ties: the faster one
    command = stream_command(passes[best["pass"]], best, settings, dataset, best["profile"], str(out / "reproduce"))
    result = {"best": best, "predicted_sAP": best["sAP"], "command": command, "command_line": shlex.join(command),
              "rows": rows, "budget_ms": budget_ms}
    (out / "plan.json").write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    table = format_table(["pass", "configuration", "policy", "forecast", "perf", "runtime ms", "sAP"],
                         [[r["pass"], r["label"], r["policy"], r["forecast"], f"{r['perf_factor']:g}",
                           f"{r['runtime_ms']:.1f}", r["sAP"]] for r in rows], digits=2)
    (out / "plan.md").write_text(
        f"# Plan\n\n{table}\n\nBest: {best['label']} / {best['policy']} / {best['forecast']} / "
        f"x{best['perf_factor']:g}: predicted sAP {best['sAP']:.2f}\n\nReproduce:\n\n    {shlex.join(command)}\n")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval_streaming.planner", description=__doc__.split("\n")[0])
    ap.add_argument("--ablation", required=True, help="folder written by python -m eval_streaming.ablate")
    ap.add_argument("--profile", action="append", default=[], metavar="[PASS=]FILE",
                    help="runtime profile from the target hardware (all passes, or the pass with index PASS)")
    ap.add_argument("--perf-factor", type=float, default=1.0, help="runtimes are divided by this")
    ap.add_argument("--budget", type=float, default=None, metavar="MS", help="max mean runtime (ms)")
    ap.add_argument("--out", default=None, help="default: ABLATION/plan")
    args = ap.parse_args(argv)
    result = plan(Path(args.ablation), profiles=args.profile, perf_factor=args.perf_factor, budget_ms=args.budget,
                  out=Path(args.out) if args.out else None)
    best = result["best"]
    print(f"best: {best['label']} / {best['policy']} / forecast {best['forecast']} / x{best['perf_factor']:g} "
          f"(runtime {best['runtime_ms']:.1f} ms): predicted sAP {best['sAP']:.2f}")
    print(result["command_line"])
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
