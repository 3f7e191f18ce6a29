"""Train YOLOX: `python -m detector.train --config configs/train_demo.yaml [--set key=value ...]
[--resume runs/NAME/latest_ckpt.pth] [--out runs/NAME]`.

Single process on CPU or one GPU; under torchrun (RANK/WORLD_SIZE set) one process per GPU with
DistributedDataParallel. Writes config.yaml, metrics.jsonl, loss_curve.png, latest_ckpt.pth,
best_ckpt.pth and best_weights.pth (inference-only) into the run folder.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from data.cli import run_command
from data.config import load_config
from detector.train_config import TrainConfig


def parse_args(argv: Sequence[str] | None = None, *, prog: str = "python -m detector.train") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=None, help="YAML training config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (dotted for nested, e.g. aug.mixup_prob=0)")
    p.add_argument("--resume", type=Path, default=None, help="latest_ckpt.pth of an interrupted run")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/<run_name>)")
    return p.parse_args(argv)


def check_data_files(cfg: TrainConfig) -> None:
    """The dataset files a config names exist (a config copied without its dataset fails here,
    naming the file, not deep in the data loader)."""
    wanted = [("train_ann", cfg.train_ann, Path.is_file), ("train_images", cfg.train_images, Path.is_dir)]
    if cfg.val_ann is not None:
        wanted += [("val_ann", cfg.val_ann, Path.is_file), ("val_images", cfg.val_images or cfg.train_images, Path.is_dir)]
    for key, value, exists in wanted:
        if not exists(Path(value)):
            kind = "annotation file" if key.endswith("ann") else "image folder"
            raise FileNotFoundError(f"{value}: {kind} not found (config key {key}; is the dataset downloaded?)")


def main(argv: Sequence[str] | None = None, *, config_cls: type[TrainConfig] = TrainConfig,
         trainer_cls: type | None = None, prog: str = "python -m detector.train") -> None:
    """The command; a bad config or a missing checkpoint raises ValueError / FileNotFoundError
    (exit 2 under run_command). config_cls / trainer_cls / prog: another model family's
    (detector.stream_train)."""
    args = parse_args(argv, prog=prog)
    config, overrides = args.config, list(args.overrides)
    if args.resume is not None:
        if not args.resume.is_file():
            raise FileNotFoundError(f"{args.resume}: checkpoint to resume not found")
        beside = args.resume.parent / "config.yaml"
        if config is None and not beside.is_file():
            # the defaults would describe another run (another model, another dataset)
            raise FileNotFoundError(f"{beside}: no config beside the checkpoint to resume; pass the run's --config")
        if config is None:
            # Resume with the interrupted run's resolved config, minus its stop point.
            config, overrides = beside, ["stop_after_iters=null", *overrides]
    cfg = load_config(config_cls, config, overrides)
    check_data_files(cfg)
    out = args.out or (args.resume.parent if args.resume else Path("runs") / cfg.run_name)
    if trainer_cls is None:
        from detector.trainer import Trainer as trainer_cls

    result = trainer_cls(cfg, out, resume=args.resume).run()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(run_command(main))
