"""Which detector keeps up with a 30 FPS stream on this machine: the wall-clock runner on a ladder
of models and input sizes.

    python -m benchmarks.realtime                                   # nano .. S, 2 inference threads
    python -m benchmarks.realtime --ladder yolox_s:384x640 --threads 2 --precision bf16
    python -m benchmarks.realtime --ladder detector/weights/yolox_demo.pth:608x960   # trained weights

Each rung runs `python -m streaming.run --realtime --no-offline` in its own process (its own
thread settings, the product's real path: decode in the source's thread, letterbox, network,
NMS, the scheduler on the wall clock) on the synthetic world (2 sequences x 60 frames, replayed
at --fps), with the backend and precision a `.pth` gets on this CPU by default (OpenVINO INT8
where it is installed; the IR is built once per rung and cached). A zoo name gets random but
seeded weights, so the build cache is reused across runs; the network's latency does not depend
on their values, but NMS does (random weights leave few boxes above the threshold, so their rows
are slightly optimistic): a `.pth` rung runs those trained weights on their own world. A rung
keeps up when no frame of the feed was dropped. The VM's speed drifts between runs, so `--repeat N`
runs each rung N times and reports medians and how many of the N runs kept up.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_LADDER = ("yolox_nano:320x512", "yolox_nano:416x640", "yolox_tiny:384x640", "yolox_s:320x512",
                  "yolox_s:384x640")


def parse_rung(text: str) -> tuple[str, tuple[int, int]]:
    """`yolox_s:384x640` -> ("yolox_s", (384, 640)), height first as everywhere in the project."""
    name, sep, size = text.partition(":")
    try:
        h, w = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--ladder {text!r}: expected MODEL:HxW, e.g. yolox_s:384x640") from None
    if not sep or h <= 0 or w <= 0 or h % 32 or w % 32:
        raise SystemExit(f"--ladder {text!r}: expected MODEL:HxW with sides a multiple of 32")
    return name, (h, w)


def random_checkpoint(name: str, path: Path) -> Path:
    """Seeded random weights of a zoo architecture (COCO's 80 classes), with its metadata."""
    import torch

    from detector.checkpoint import save_checkpoint
    from detector.model import build_model

    torch.manual_seed(0)
    save_checkpoint(path, build_model(name).eval(), model_name=name)
    return path


def rung_checkpoint(name: str, tmp: Path) -> Path:
    """A `.pth` file as it is; a zoo name as seeded random weights written into `tmp`."""
    if name.endswith(".pth"):
        if not Path(name).is_file():
            raise SystemExit(f"--ladder {name}: no such checkpoint")
        return Path(name)
    return random_checkpoint(name, tmp / f"{name}_random.pth")


def run_rung(checkpoint: Path, size: tuple[int, int], *, out: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "streaming.run", "--model", str(checkpoint), "--input-size", str(size[0]),
           str(size[1]), "--realtime", "--latency", "measured", "--no-offline", "--fps", str(args.fps),
           "--threads", str(args.threads), "--out", str(out)]
    if args.precision:
        cmd += ["--precision", args.precision]
    if args.backend:
        cmd += ["--backend", args.backend]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    detector = json.loads((out / "report.json").read_text())["detector"]
    profile = json.loads((out / "runtime_profile.json").read_text())
    return {**detector["realtime"], "backend": detector["backend"], "precision": detector["precision"],
            "p50_ms": profile["p50_s"] * 1e3, "p90_ms": profile["p90_s"] * 1e3}


def summarize(runs: list[dict]) -> dict:
    """One row from repeated runs of a rung: medians of the rates and latencies, the worst run's
    processed count, and in how many runs no frame was dropped."""
    if not runs:
        raise ValueError("summarize: no runs")
    med = {k: statistics.median(r[k] for r in runs) for k in ("processed_fps", "p50_ms", "p90_ms")}
    worst = min(runs, key=lambda r: r["processed"])
    return {**runs[0], **med, "processed": worst["processed"], "offered": worst["offered"],
            "kept_up_runs": sum(bool(r["keeps_up"]) for r in runs), "runs": len(runs),
            "keeps_up": all(r["keeps_up"] for r in runs)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ladder", nargs="+", default=list(DEFAULT_LADDER), metavar="MODEL:HxW")
    ap.add_argument("--threads", type=int, default=2, help="inference threads (all cores: nothing else runs)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--precision", default="", help="OpenVINO precision (default: the backend's)")
    ap.add_argument("--backend", default="", help="force a backend (default: the CPU's fast path)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per rung; the table gives medians")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        raise SystemExit(f"--repeat {args.repeat}: need at least 1")
    rungs = [parse_rung(r) for r in args.ladder]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in rungs:
            checkpoint = rung_checkpoint(name, Path(tmp))
            stem = f"run_{checkpoint.stem}_{size[0]}x{size[1]}"
            r = summarize([run_rung(checkpoint, size, out=Path(tmp) / f"{stem}_{k}", args=args)
                           for k in range(args.repeat)])
            rows.append((name, size, r))
            print(f"{name} {size[0]}x{size[1]}: {r['processed_fps']:.1f} FPS", file=sys.stderr)

    print(f"\nwall-clock streaming at {args.fps:g} FPS, {args.threads} inference thread(s), "
          f"{os.cpu_count()} cores, {args.repeat} run(s) per rung (medians; processed: the worst run)\n")
    print("| model | input | backend | processed / offered | FPS | p50 ms | p90 ms | keeps up (runs) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (h, w), r in rows:
        backend = f"{r['backend']} {r['precision'] or ''}".strip()
        print(f"| {name} | {h}x{w} | {backend} | {r['processed']} / {r['offered']} | {r['processed_fps']:.1f} | "
              f"{r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['kept_up_runs']} of {r['runs']} |")


if __name__ == "__main__":
    main()
