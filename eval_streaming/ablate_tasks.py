"""The ablation's two kinds of task, as plain functions of small picklable jobs.

    run_shard(ShardJob)   one every-frame pass of one detector over one shard of sequences,
                          through streaming.session's own sequence loop (so the detections and
                          runtimes are those `streaming.run` gets); returns the stream logs'
                          text and the measured runtimes, and writes nothing shared.
    score(ScoreJob)       one point simulated from a pass's logs and scored, or the pass's
                          offline row (eval_streaming.sweep's point_row / offline_row).
Both run in a worker process (a local pool's or Ray's); the driver writes the cache.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from eval_streaming.sweep import SweepPoint


@dataclass(frozen=True)
class ShardJob:
    model: str
    input_size: tuple[int, int] | None
    backend: str
    precision: str
    device: str
    conf_thresh: float
    nms_thresh: float
    annotation_file: str
    image_root: str
    sequences: tuple[str, ...]  # names, in dataset order
    max_frames: int
    fps: float


@dataclass(frozen=True)
class _ShardView:
    """The dataset as streaming.session.stream_dataset reads it, restricted to one shard."""

    sequences: list
    classes: tuple
    coco_mapping: tuple


def shard_config(job: ShardJob):  # noqa: ANN201 - a StreamingConfig (imported lazily, in the worker)
    from streaming.config import StreamingConfig

    return StreamingConfig(model=job.model, data=job.image_root, annotations=job.annotation_file, fps=job.fps,
                           input_size=job.input_size, backend=job.backend, precision=job.precision,
                           device=job.device, conf_thresh=job.conf_thresh, nms_thresh=job.nms_thresh,
                           latency="fixed:0", offline=True, plot=False, max_frames=job.max_frames)


def run_shard(job: ShardJob) -> dict:
    """{"logs": {sequence: offline log text}, "measured": runtimes (s), "warmup": [...], "frames": n}."""
    from data.argoverse import ArgoverseHD
    from streaming.detect import load_stream_detector, map_to_dataset
    from streaming.session import stream_dataset

    cfg = shard_config(job)
    dataset = ArgoverseHD(job.annotation_file, job.image_root, check_images=False)
    by_name = {s.name: s for s in dataset.sequences}
    missing = [n for n in job.sequences if n not in by_name]
    if missing:
        raise ValueError(f"{job.annotation_file}: no sequence(s) {', '.join(missing)}")
    detector = map_to_dataset(load_stream_detector(cfg), dataset, job.model or "demo model")
    view = _ShardView([by_name[n] for n in job.sequences], tuple(dataset.classes),
                      tuple(getattr(dataset, "coco_mapping", ()) or ()))
    with tempfile.TemporaryDirectory(prefix="ablate-shard-") as tmp:
        _, offline_logs, measured, warmup = stream_dataset(cfg, view, detector, Path(tmp))  # type: ignore[arg-type]
        logs = {log.sequence: (Path(tmp) / "offline" / f"{log.sequence}.jsonl").read_text() for log in offline_logs}
    if list(logs) != list(job.sequences):
        raise RuntimeError(f"shard {job.sequences}: the pass wrote logs for {list(logs)}")
    return {"logs": logs, "measured": [float(r) for r in measured], "warmup": [float(r) for r in warmup],
            "frames": sum(log.num_frames for log in offline_logs)}


@dataclass(frozen=True)
class ScoreJob:
    log_files: tuple[str, ...]  # the pass's offline logs, in dataset order
    annotation_file: str
    point: SweepPoint | None  # None: the offline row
    latency_spec: str  # the point's latency as parse_latency reads it (a pass profile resolved to its file)
    eta: float
    seed: int
    timing: str


def score(job: ScoreJob) -> dict:
    from dataclasses import replace

    from eval_streaming.evaluate import load_annotations
    from eval_streaming.sweep import offline_row, point_row
    from streaming.log import read_log

    logs = [read_log(p) for p in job.log_files]
    annotations = load_annotations(job.annotation_file)
    if job.point is None:
        return offline_row(logs, annotations)
    row = point_row(logs, annotations, replace(job.point, latency=job.latency_spec), eta=job.eta, seed=job.seed,
                    timing=job.timing)
    return {**row, "latency": job.point.latency}  # the table names the latency as the config did
