"""A streaming run over a dataset, up to its stream logs: the library under `python -m streaming.run`.

`stream_session(cfg)` checks the output location, loads the detector (a bad model file fails
first) and resolves the dataset (generating the synthetic demo world when asked) before it
writes anything; then it streams every sequence into a fresh work folder beside --out
(streaming/run_folder.py: resolved config.yaml, logs/, offline/, runtime_profile.json) and,
unless the caller has more to add (`commit=False`, then `session.commit()`), swaps it in as
--out. A failed or interrupted run leaves the previous run in --out untouched. Scoring is the
next layer's job (eval_streaming): the logs are the seam, so this module imports nothing from it.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data.argoverse import ArgoverseHD
from data.config import save_config
from data.layout import find_dataset
from detector.runner import FrameRunner, is_stateful, reset_stream
from streaming.config import StreamingConfig
from streaming.detect import MappedDetector, load_stream_detector, map_to_dataset
from streaming.latency import parse_latency
from streaming.log import StreamLog, write_log
from streaming.oracle import check_oracle_latency, is_oracle, oracle_pass
from streaming.passes import OfflinePass, build_stream_pass, offline_pass
from streaming.run_folder import begin_run, check_out_location, check_run_complete, finish_run
from streaming.simulate import offline_outputs

__all__ = ["StreamSession", "check_run_complete", "resolve_dataset", "runtime_summary", "stream_dataset",
           "stream_session"]


@dataclass
class StreamSession:
    """What a run produced before scoring: its logs (also on disk), the dataset and detector."""

    cfg: StreamingConfig
    dataset: ArgoverseHD
    detector: MappedDetector | None  # None: the oracle (streaming.oracle)
    logs: list[StreamLog]
    offline_logs: list[StreamLog]  # empty without the every-frame pass
    measured: list[float]  # the detector's runtimes (s): the run's runtime profile
    work_dir: Path | None = None  # where the run is being written; None once committed
    warnings: list[str] = field(default_factory=list)

    @property
    def out(self) -> Path:
        """The folder to write this run's files to: the work folder until committed."""
        return self.work_dir if self.work_dir is not None else Path(self.cfg.out)

    def commit(self) -> Path:
        """Swap the finished work folder in as --out (once; later calls are no-ops)."""
        if self.work_dir is not None:
            finish_run(self.work_dir, self.cfg.out)
            self.work_dir = None
        return Path(self.cfg.out)


def _world_matches(root: Path, wanted: dict) -> bool:
    """Whether the world on disk was generated with these settings (else it is regenerated)."""
    try:
        args = json.loads((root / "world.json").read_text())["arguments"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(args.get(k) == v for k, v in wanted.items())


def resolve_dataset(cfg: StreamingConfig) -> ArgoverseHD:
    if cfg.data in ("", "synthetic"):
        root = Path(cfg.synthetic.directory)
        s = cfg.synthetic
        wanted = {"sequences": s.sequences, "frames": s.frames, "size": list(s.size), "seed": s.seed}
        if not (root / "annotations" / f"{cfg.split}.json").is_file() or not _world_matches(root, wanted):
            from data.synthetic import generate_world

            print(f"generating the synthetic demo world in {root} ...", file=sys.stderr)
            # every sequence in val: the demo streams, it does not train
            generate_world(root, sequences=s.sequences, frames=s.frames, size=tuple(s.size), seed=s.seed,
                           val_fraction=1.0)
    else:
        root = Path(cfg.data)
    files = find_dataset(root, cfg.split, cfg.annotations or None)  # the official layout or ours
    return ArgoverseHD(files.annotation_file, files.image_root, check_images=True)


def runtime_summary(runtimes: list[float]) -> dict:
    arr = np.asarray(runtimes, dtype=np.float64)
    if not arr.size:
        return {"count": 0}
    return {"count": int(arr.size), "mean_s": float(arr.mean()), "p50_s": float(np.percentile(arr, 50)),
            "p90_s": float(np.percentile(arr, 90)), "max_s": float(arr.max())}


WARMUP_CALLS = 3  # the first allocates and compiles; the others show the machine's quiet speed
NOISY_P90_FACTOR = 3.0


def runtime_warnings(measured: list[float], warmup: list[float]) -> list[str]:
    """Why the measured runtimes should not be trusted, if they look it: a p90 far above the
    warm-up's median means the machine was busy (other jobs, oversubscribed threads), and a
    measured-latency score would describe that contention, not the detector."""
    quiet = warmup[1:] or warmup  # the first warm-up call is not the quiet speed
    if not measured or not quiet:
        return []
    p90, median = float(np.percentile(measured, 90)), float(np.median(quiet))
    if median > 0 and p90 > NOISY_P90_FACTOR * median:
        return [f"measured runtimes are noisy: p90 {p90 * 1000:.1f} ms is {p90 / median:.1f}x the warm-up median "
                f"{median * 1000:.1f} ms; the machine was busy (other processes, too many threads), so measured "
                "latency reflects the load, not the detector"]
    return []


def stream_dataset(cfg: StreamingConfig, dataset: ArgoverseHD, detector: MappedDetector | None,
                   out: Path) -> tuple[list[StreamLog], list[StreamLog], list[float], list[float]]:
    """Run every sequence; write and return its stream logs, offline logs, measured runtimes
    and the warm-up calls' runtimes.

    detector None: the oracle, whose every-frame pass is the annotations (no frame is read)."""
    from tqdm import tqdm

    from data.coco import read_image

    latency = parse_latency(cfg.latency, perf_factor=cfg.perf_factor, seed=cfg.seed)
    logs, offline_logs, measured, warmup = [], [], [], []
    for seq in dataset.sequences[: cfg.max_sequences or None]:
        frames = seq.frames[: cfg.max_frames or None]
        n = len(frames)

        def load(i: int, frames=frames) -> np.ndarray:
            return read_image(frames[i].path)

        if hasattr(dataset, "frame_loader"):  # footage (data.video_dataset) decodes; a dataset reads files
            load = dataset.frame_loader(seq)

        # the first calls allocate and compile: not in the timings (the oracle has none)
        reset_stream(detector)  # before every pass: a stateful detector starts each one afresh
        while n and detector is not None and len(warmup) < WARMUP_CALLS:
            first = FrameRunner(detector, load)(0)
            if first.detections is None:
                break  # frame 0 unreadable: this sequence's stream pass will count it
            warmup.append(first.runtime_s)
        header = dict(sequence=seq.name, sid=seq.sid, fps=cfg.fps, num_frames=n,
                      image_ids=[f.image_id for f in frames], classes=list(dataset.classes),
                      perf_factor=cfg.perf_factor, seed=cfg.seed)
        input_size = getattr(detector.detector, "input_size", None) if detector is not None else None  # oracle: none
        meta: dict[str, Any] = {"model": cfg.model or "demo", "device": cfg.device,
                                "input_size": list(input_size or [])}
        ahead = int(getattr(detector.detector, "forecast_frames", 0)) if detector is not None else 0
        if ahead:  # StreamYOLO: the boxes describe a later frame (eval_streaming.pairing)
            meta["forecast_frames"] = ahead
        bar = tqdm(total=n, desc=f"{seq.name} offline" if cfg.offline else seq.name, unit="frame", leave=False)

        def advance(index: int) -> None:
            bar.update(index + 1 - bar.n)

        try:  # the bar is cleared also on Ctrl-C, so the one-line message starts on its own line
            cache = None
            if detector is None:
                cache = OfflinePass(*oracle_pass(dataset, header["image_ids"]))
            elif cfg.offline:
                reset_stream(detector)
                cache = offline_pass(FrameRunner(detector, load), n, on_frame=advance)
            if cache is not None:
                measured += cache.measured
                off = StreamLog(latency="offline", policy="offline", outputs=offline_outputs(cache.detections, cfg.fps),
                                meta={**meta, "bad_frames": cache.bad_frames, "runtimes": cache.runtimes}, **header)
                offline_logs.append(off)
                write_log(off, out / "offline" / f"{seq.name}.jsonl")
                bar.reset(total=n)
                bar.set_description(seq.name)
            reset_stream(detector)
            # A stateful detector (StreamYOLO) fuses each frame with the previous *processed* one,
            # so the every-frame pass cannot be replayed for the frames a stream keeps: it runs live.
            replay = None if is_stateful(detector) else cache
            stream = build_stream_pass(detector, load, fps=cfg.fps, latency=latency, policy=cfg.policy, key=seq.sid,
                                       realtime=cfg.realtime, cache=replay, timing=cfg.timing).run(n, advance)
        finally:
            bar.close()
        # With the every-frame pass its runtimes are the profile; the stream's would count twice.
        measured += [] if cfg.offline else stream.measured
        log = StreamLog(latency=cfg.latency, policy=cfg.policy, outputs=stream.outputs, timing=cfg.timing,
                        meta={**meta, "mode": stream.mode, "bad_frames": stream.bad_frames}, **header)
        logs.append(log)
        write_log(log, out / "logs" / f"{seq.name}.jsonl")
        if stream.bad_frames:
            print(f"{seq.name}: skipped {len(stream.bad_frames)} unreadable frame(s), e.g. {stream.bad_frames[0]}",
                  file=sys.stderr)
    return logs, offline_logs, measured, warmup


def stream_session(cfg: StreamingConfig, *, dataset: Any = None, commit: bool = True) -> StreamSession:
    """Everything of a run up to scoring (see the module docstring); `dataset` given (footage the
    command opened to learn its frame rate, data.video_dataset) replaces resolving cfg.data."""
    out = check_out_location(cfg.out)
    oracle = is_oracle(cfg.model)
    if oracle:
        check_oracle_latency(cfg.latency, realtime=cfg.realtime)
    raw = None if oracle else load_stream_detector(cfg)  # first: a bad model file fails before any data work
    dataset = dataset if dataset is not None else resolve_dataset(cfg)
    detector = None if raw is None else map_to_dataset(raw, dataset, cfg.model or "demo model")
    if not dataset.sequences[: cfg.max_sequences or None]:
        raise ValueError(f"{dataset.annotation_file}: no sequences to stream")
    work = begin_run(out)  # nothing was written before this line
    save_config(cfg, work / "config.yaml")
    logs, offline_logs, measured, warmup = stream_dataset(cfg, dataset, detector, work)
    warnings = runtime_warnings(measured, warmup)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    (work / "runtime_profile.json").write_text(json.dumps({
        "runtimes": measured, "model": cfg.model or "demo", "device": cfg.device,
        "input_size": list(getattr(raw, "input_size", []) or []), **runtime_summary(measured),
        "warmup_runtimes": warmup, "warnings": warnings,
    }, indent=1) + "\n")
    session = StreamSession(cfg, dataset, detector, logs, offline_logs, measured, work_dir=work,
                            warnings=warnings)
    if commit:
        session.commit()
    return session
