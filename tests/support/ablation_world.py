"""A tiny synthetic world and two small checkpoints for the ablation tests (eval_streaming.ablate)."""
from __future__ import annotations

import os
from pathlib import Path


def make_world(root: Path, *, sequences: int = 2, frames: int = 8) -> Path:
    from data.synthetic import generate_world

    generate_world(root, sequences=sequences, frames=frames, size=(320, 192), seed=3, val_fraction=1.0,
                   progress=False)
    return root


def untrained_nano(path: Path, *, seed: int = 0) -> Path:
    """An untrained 8-class YOLOX-nano: a second, different model (the demo model is the first)."""
    import torch

    from detector.checkpoint import save_checkpoint
    from detector.model import build_model

    torch.manual_seed(seed)
    save_checkpoint(path, build_model("yolox_nano", num_classes=8), input_size=[192, 320])
    return path


def ablation_args(world: Path, cache: Path, out: Path, *extra: str) -> list[str]:
    """argv for eval_streaming.ablate over `world` with the torch backend, one worker."""
    return ["--set", f"data={world}", "--set", f"cache={cache}", "--out", str(out), "--workers", "1",
            "--set", "input_sizes=[[192, 320]]", "--set", "backends=[torch]", *extra]


def die_once(job: tuple[str, int]) -> int:
    """A task whose first attempt kills its worker process (the marker file says it ran)."""
    marker, value = job
    if not os.path.exists(marker):
        Path(marker).write_text("died\n")
        os._exit(3)
    return value * 2


def raise_once(job: tuple[str, int]) -> int:
    """A task whose first attempt raises."""
    marker, value = job
    if not os.path.exists(marker):
        Path(marker).write_text("raised\n")
        raise RuntimeError("first attempt fails")
    return value + 1
