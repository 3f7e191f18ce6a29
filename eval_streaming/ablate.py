"""Latency-budget ablations: models x input sizes x backends, then latencies x policies x forecasts.

    python -m eval_streaming.ablate --config configs/ablation.yaml [--set key=value ...] \\
        [--out DIR] [--executor local|ray] [--address auto] [--workers N]

Each (model, input size, backend/precision) gets one every-frame pass over the dataset (default:
a small synthetic world generated into CACHE/world), one task per shard of sequences; each pass
is then simulated under every (latency, policy, forecast, perf factor) point and scored, one
task per point (eval_streaming.sweep). Passes and scores are cached by content hash
(eval_streaming.ablate_cache): a rerun runs nothing it has, an interrupted one resumes. Tasks run
in a local process pool (default, one process per core) or on Ray (`--executor ray`; `--address
auto` for a running cluster, whose nodes must see the data and the cache folder); the table is
the same either way. Writes to --out: config.yaml (resolved), ablation.md, ablation.json (rows,
cache counters, pass profiles), and ablation_runtime.png / ablation_frontier.png /
ablation_budget.png. `python -m eval_streaming.planner --ablation DIR` picks from it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from data.cli import check_output_dir, run_command
from data.config import load_config, save_config
from eval_streaming.ablate_cache import FORMAT_VERSION, AblationCache, digest_of, file_sha256
from eval_streaming.ablate_config import OWN_PROFILE, AblationConfig, PassSpec, pass_specs, sweep_points
from eval_streaming.ablate_exec import make_executor
from eval_streaming.ablate_report import plot_ablation, table_markdown, table_rows
from eval_streaming.ablate_tasks import ScoreJob, ShardJob, run_shard, score


@dataclass
class PassRecord:
    """One every-frame pass assembled from its cached shards."""

    spec: PassSpec
    log_files: list[str]
    measured: list[float]
    digest: str  # content digest over its shards
    profile: str  # runtime profile file (CACHE/profiles/...)
    input_hw: list[int]  # the network input the pass ran at (the model's own when not asked for)
    model_file: str  # the file the model entry loaded


@dataclass
class AblationResult:
    rows: list[dict]
    passes: list[PassRecord]
    stats: dict
    out: Path
    dataset: dict = field(default_factory=dict)


def world_config(cfg: AblationConfig):  # noqa: ANN201 - a StreamingConfig for streaming.session.resolve_dataset
    from streaming.config import StreamingConfig

    return StreamingConfig(data=cfg.data, annotations=cfg.annotations, split=cfg.split, fps=cfg.fps,
                           synthetic=cfg.synthetic.resolve(cfg.cache))


def model_file(model: str) -> Path:
    """The file a model entry loads ("" = the bundled demo model); errors name the entry."""
    from detector.api import resolve_model_path
    from streaming.detect import demo_model_path

    if not model:
        return demo_model_path()
    return resolve_model_path(model)[0]


def _input_hw(log_file: str) -> list[int]:
    with open(log_file, encoding="utf-8") as f:
        return [int(v) for v in json.loads(f.readline()).get("meta", {}).get("input_size", [])]


def _shards(names: list[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(names[i:i + size]) for i in range(0, len(names), size)]


def run_ablation(cfg: AblationConfig) -> AblationResult:
    from streaming.session import resolve_dataset

    out = check_output_dir(cfg.out)
    cache = AblationCache(Path(cfg.cache).absolute())  # absolute: workers may start elsewhere
    dataset = resolve_dataset(world_config(cfg))
    annotations_sha = file_sha256(dataset.annotation_file)
    names = [s.name for s in dataset.sequences[: cfg.max_sequences or None]]
    if not names:
        raise ValueError(f"{dataset.annotation_file}: no sequences to run")
    specs = pass_specs(cfg)
    files = {m: model_file(m).absolute() for m in cfg.models}  # a missing model fails before any work
    checkpoints = {m: file_sha256(f) for m, f in files.items()}
    gpus = 1.0 if cfg.device.startswith("cuda") else 0.0

    # 1. every-frame passes, one task per (pass, shard) not yet cached
    shard_keys: dict[tuple[int, int], tuple[str, dict]] = {}
    jobs, where = [], []
    for p, spec in enumerate(specs):
        for s, shard in enumerate(_shards(names, cfg.shard_sequences)):
            key_data = {"format": FORMAT_VERSION, "kind": "pass-shard", "checkpoint_sha256": checkpoints[spec.model],
                        "input_size": list(spec.input_size) if spec.input_size else None, "backend": spec.backend,
                        "precision": spec.precision, "device": cfg.device, "conf_thresh": cfg.conf_thresh,
                        "nms_thresh": cfg.nms_thresh, "annotations_sha256": annotations_sha, "sequences": list(shard),
                        "max_frames": cfg.max_frames, "fps": cfg.fps}
            key = digest_of(key_data)
            shard_keys[(p, s)] = (key, key_data)
            if cache.load_shard(key) is not None:
                cache.stats.shards_cached += 1
                continue
            jobs.append(ShardJob(str(files[spec.model]), spec.input_size, spec.backend, spec.precision, cfg.device,
                                 cfg.conf_thresh, cfg.nms_thresh, str(Path(dataset.annotation_file).absolute()),
                                 str(Path(dataset.root).absolute()),
                                 shard, cfg.max_frames, cfg.fps))
            where.append((key, key_data))

    executor = make_executor(cfg.executor, address=cfg.address, workers=cfg.workers, max_retries=cfg.max_retries)
    t0 = time.perf_counter()
    with executor:
        executor.map(run_shard, jobs, gpus=gpus, desc="every-frame passes",
                     on_result=lambda i, result: cache.store_shard(*where[i], result))
        t_passes = time.perf_counter() - t0
        passes = []
        for p, spec in enumerate(specs):
            entries = [cache.load_shard(shard_keys[(p, s)][0]) for s in range(len(_shards(names, cfg.shard_sequences)))]
            if any(e is None for e in entries):
                raise RuntimeError(f"{spec.label}: a shard is missing from the cache {cache.root} after its task ran")
            measured = [r for e in entries for r in e.measured]
            digest = digest_of([e.digest for e in entries])
            profile = cache.write_profile(digest, measured, {"model": spec.model or "demo", "pass": spec.label})
            log_files = [str(f) for e in entries for f in e.log_files]
            passes.append(PassRecord(spec, log_files, measured, digest, str(profile), _input_hw(log_files[0]),
                                     str(files[spec.model])))

        # 2. scoring: the offline row and every point of every pass, one task each
        points = [None, *sweep_points(cfg)]
        score_keys, score_jobs, score_where = {}, [], []
        for p, rec in enumerate(passes):
            for q, point in enumerate(points):
                key = digest_of({"format": FORMAT_VERSION, "kind": "score", "pass": rec.digest,
                                 "point": asdict(point) if point else None, "eta": cfg.eta, "seed": cfg.seed,
                                 "timing": cfg.timing, "annotations_sha256": annotations_sha})
                score_keys[(p, q)] = key
                if cache.load_score(key) is not None:
                    cache.stats.scores_cached += 1
                    continue
                spec = point.latency if point else "offline"
                score_jobs.append(ScoreJob(tuple(rec.log_files), str(Path(dataset.annotation_file).absolute()), point,
                                           f"profile:{rec.profile}" if spec == OWN_PROFILE else spec,
                                           cfg.eta, cfg.seed, cfg.timing))
                score_where.append(key)
        executor.map(score, score_jobs, desc="scoring",
                     on_result=lambda i, row: cache.store_score(score_where[i], row))
    t_total = time.perf_counter() - t0

    scored = {k: cache.load_score(key) for k, key in score_keys.items()}
    rows = table_rows(passes, points, scored)
    stats = {**cache.stats.to_dict(), "retried": executor.retried, "executor": cfg.executor,
             "workers": executor.workers, "passes_s": round(t_passes, 3), "total_s": round(t_total, 3)}
    return AblationResult(rows, passes, stats, out, {"annotations": str(Path(dataset.annotation_file).absolute()),
                                                     "root": str(Path(dataset.root).absolute()), "sequences": names})


def write_outputs(cfg: AblationConfig, result: AblationResult) -> Path:
    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    (out / "ablation.md").write_text(table_markdown(result.rows))
    passes = [{**asdict(p.spec), "label": p.spec.label, "digest": p.digest, "profile": p.profile,
               "model_file": p.model_file, "input_hw": p.input_hw, "log_files": p.log_files,
               "frames_timed": len(p.measured)} for p in result.passes]
    (out / "ablation.json").write_text(json.dumps(
        {"rows": result.rows, "passes": passes, "dataset": result.dataset,
         "settings": {"eta": cfg.eta, "seed": cfg.seed, "timing": cfg.timing, "fps": cfg.fps,
                      "conf_thresh": cfg.conf_thresh, "nms_thresh": cfg.nms_thresh, "device": cfg.device,
                      "max_frames": cfg.max_frames},
         "stats": result.stats}, indent=1, allow_nan=False) + "\n")
    # the plots are a function of the rows: drawn once per table (matplotlib costs a rerun seconds)
    plots = Path(cfg.cache).absolute() / "plots" / digest_of(result.rows)[:24]
    if not plots.is_dir():
        tmp = plots.parent / f".{plots.name}.tmp-{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        plot_ablation(result.rows, tmp)
        tmp.rename(plots)
    for png in sorted(plots.glob("*.png")):
        shutil.copyfile(png, out / png.name)
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m eval_streaming.ablate", description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="YAML config (see configs/ablation.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--out")
    ap.add_argument("--executor", choices=("local", "ray"))
    ap.add_argument("--address", help="Ray cluster address ('auto' = the running cluster)")
    ap.add_argument("--workers", type=int, help="processes (local) or num_cpus of a local Ray; 0 = one per core")
    return ap


def config_from_args(argv: Sequence[str] | None) -> AblationConfig:
    args = build_parser().parse_args(argv)
    flags = [f"{k}={json.dumps(v)}" for k, v in (("out", args.out), ("executor", args.executor),
                                                   ("address", args.address), ("workers", args.workers))
             if v is not None]
    return load_config(AblationConfig, args.config, flags + list(args.set))


def main(argv: Sequence[str] | None = None) -> int:
    """Bad input (config, model file, dataset) raises; run_command turns it into exit code 2."""
    cfg = config_from_args(argv)
    result = run_ablation(cfg)
    out = write_outputs(cfg, result)
    print((out / "ablation.md").read_text(), end="")
    s = result.stats
    print(f"passes: {s['shards_run']} shard(s) run ({s['frames_run']} frames), {s['shards_cached']} cached; "
          f"scores: {s['scores_run']} run, {s['scores_cached']} cached; {s['total_s']:.1f} s on {s['executor']}")
    print(f"ablation folder: {out}")
    return 0


def _entry() -> Any:
    return sys.exit(run_command(main))


if __name__ == "__main__":
    _entry()
