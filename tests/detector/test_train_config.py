"""configs/train_yolox_l_argoverse.yaml, the headline detector's recipe: it loads into TrainConfig with
the StreamYOLO-style values, and a two-iteration run of the real YOLOX-L config (COCO-shaped
80-class initialisation, 8 Argoverse-HD classes) works on a tiny synthetic world in Argoverse-HD layout."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from data.cli import run_command
from data.config import load_config
from data.synthetic import generate_world
from detector.checkpoint import save_checkpoint
from detector.model import build_model
from detector.train import main as train_main
from detector.train_config import TrainConfig

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "train_yolox_l_argoverse.yaml"


def test_yolox_l_argoverse_config_loads() -> None:
    cfg = load_config(TrainConfig, CONFIG)
    assert (cfg.model, cfg.init_weights) == ("yolox_l", "yolox_l")
    assert tuple(cfg.input_size) == (608, 960) and cfg.multiscale_range == 0
    assert (cfg.epochs, cfg.warmup_epochs, cfg.no_aug_epochs) == (8, 1, 0)
    assert cfg.lr_per_image == pytest.approx(0.001 / 64)
    assert cfg.aug.mosaic_prob == 0.0 and not cfg.aug.enable_mixup
    assert "Argoverse-HD" in cfg.train_ann and "Argoverse-HD" in cfg.val_ann


def test_yolox_l_argoverse_config_trains_two_iterations(tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate_world(world, sequences=2, frames=4, size=(192, 120), seed=0, val_fraction=0.5, progress=False)
    # Stands in for the official COCO yolox_l.pth (not downloadable in tests): same keys and 80 classes.
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "yolox_l_coco.pth", build_model("yolox_l", num_classes=80))
    sets = {"init_weights": tmp_path / "yolox_l_coco.pth", "train_ann": world / "annotations" / "train.json",
            "train_images": world, "val_ann": world / "annotations" / "val.json", "val_images": world,
            "input_size": "[64, 96]", "epochs": 1, "warmup_epochs": 1, "batch_size": 2, "max_iters_per_epoch": 2,
            "max_val_images": 2, "num_workers": 0, "threads": 1, "device": "cpu"}
    args = ["--config", str(CONFIG), "--out", str(tmp_path / "run")]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    assert run_command(train_main, args) == 0
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    text = json.dumps(lines)
    assert "head.cls_preds.0.weight" in text  # the 80-class classifier was re-initialised for 8 classes
    assert '"ap"' in text
    assert (tmp_path / "run" / "best_weights.pth").is_file()
