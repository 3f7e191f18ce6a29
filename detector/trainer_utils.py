"""Pieces of the trainer: model and optimizer construction, fine-tuning weights, checkpoint
files, the metrics log and the loss-curve plot."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from detector.checkpoint import METADATA_KEY, load_checkpoint, read_metadata
from detector.model import YOLOX, build_model
from detector.train_config import TrainConfig
from detector.zoo import MODEL_ZOO, resolve_weights


def build_train_model(cfg: TrainConfig, num_classes: int) -> YOLOX:
    if cfg.model == "custom":
        return build_model(depth=cfg.depth, width=cfg.width, num_classes=num_classes, depthwise=cfg.depthwise,
                           act=cfg.act)
    if cfg.model not in MODEL_ZOO:
        raise ValueError(f"model {cfg.model!r} is neither 'custom' nor a zoo name ({', '.join(MODEL_ZOO)})")
    return build_model(cfg.model, num_classes=num_classes)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Official grouping: BatchNorm weights and all biases without decay, conv/linear weights
    with decay."""
    bn_weights, weights, biases = [], [], []
    for module in model.modules():
        bias = getattr(module, "bias", None)
        if isinstance(bias, nn.Parameter):
            biases.append(bias)
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter):
            continue
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            bn_weights.append(weight)
        else:
            weights.append(weight)
    return [{"params": bn_weights, "weight_decay": 0.0, "name": "bn_weights"},
            {"params": weights, "weight_decay": weight_decay, "name": "weights"},
            {"params": biases, "weight_decay": 0.0, "name": "biases"}]


def build_optimizer(model: nn.Module, *, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    return torch.optim.SGD(param_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=True)


def resolve_init_weights(spec: str) -> Path:
    path = Path(spec)
    if path.is_file():
        return path
    if spec.removesuffix(".pth") in MODEL_ZOO:
        return resolve_weights(spec.removesuffix(".pth"))
    raise FileNotFoundError(f"{spec}: init_weights file not found (and not a zoo model name)")


def load_init_weights(model: nn.Module, spec: str) -> dict[str, list[str]]:
    """Load every tensor whose name and shape match; the rest (typically head.cls_preds.* for a
    different class count) keep their fresh initialisation. Returns what was skipped."""
    state, _ = load_checkpoint(resolve_init_weights(spec))
    own = model.state_dict()
    loadable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    mismatched = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    unexpected = sorted(k for k in state if k not in own)
    missing = sorted(k for k in own if k not in state)
    model.load_state_dict(loadable, strict=False)
    return {"loaded": sorted(loadable), "mismatched": mismatched, "unexpected": unexpected, "missing": missing}


def state_for_save(state: dict[str, torch.Tensor], fp16: bool) -> dict[str, torch.Tensor]:
    if not fp16:
        return {k: v.detach().clone() for k, v in state.items()}
    return {k: (v.half() if v.is_floating_point() else v).detach().clone() for k, v in state.items()}


def save_file(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def slim_checkpoint(src: Path, dst: Path, *, fp16: bool = False) -> Path:
    """Inference weights from a training checkpoint: the (EMA) model plus metadata, without the
    optimizer and trainer state."""
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    meta = read_metadata(ckpt, source=str(src))
    out = {"model": state_for_save(ckpt["model"], fp16), METADATA_KEY: meta.to_strings(),
           **{k: ckpt[k] for k in ("best_ap", "start_epoch") if k in ckpt}}
    save_file(out, dst)
    return dst


class MetricsLog:
    """JSON lines in the run folder, mirrored to TensorBoard when it is installed."""

    def __init__(self, path: Path, *, tensorboard: bool = True, resumed_at_iter: int | None = None) -> None:
        """A fresh run starts an empty log; a run resumed at iteration `resumed_at_iter` keeps the
        rows up to it and drops the later ones, which it is about to write again."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = [] if resumed_at_iter is None else [
            r for r in read_metrics(path) if int(r.get("iter", 0)) <= resumed_at_iter]
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(path.parent / "tensorboard"))
            except Exception:  # tensorboard is optional
                self._tb = None

    def write(self, record: dict[str, Any], step: int) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("epoch", "iter"):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_loss_curve(metrics_path: Path, out_png: Path) -> Path | None:
    records = read_metrics(metrics_path)
    train = [r for r in records if "total_loss" in r]
    evals = [r for r in records if "ap" in r]
    if not train:
        return None
    from matplotlib.figure import Figure  # the object API needs no GUI backend

    fig = Figure(figsize=(11 if evals else 6, 4))
    axes = fig.subplots(1, 2 if evals else 1, squeeze=False)
    ax = axes[0][0]
    for key in ("total_loss", "iou_loss", "obj_loss", "cls_loss", "l1_loss"):
        points = [(r["iter"], r[key]) for r in train if r.get(key, 0) > 0]  # L1 only in the last epochs
        if points:
            ax.plot(*zip(*points), label=key)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if evals:
        ax2 = axes[0][1]
        ax2.plot([r["epoch"] for r in evals], [r["ap"] for r in evals], "o-", label="AP")
        ax2.plot([r["epoch"] for r in evals], [r["ap50"] for r in evals], "s-", label="AP50")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("COCO AP (val)")
        ax2.legend()
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    return out_png
