"""Reading and writing checkpoints in the official YOLOX format.

A checkpoint is `{"model": state_dict, ...}` (training checkpoints also carry "optimizer",
"start_epoch", ...) or a bare state_dict. The architecture and the number of classes are read from
the tensor shapes, so an official release file needs nothing else.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from detector.model import YOLOX, build_model
from detector.zoo import MODEL_ZOO


class CheckpointError(ValueError):
    pass


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, metadata) of a .pth file; metadata holds every non-model entry."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler raises many types (IndexError, UnpicklingError, ...) on junk
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {str(e)[:120]})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        state, meta = obj["model"], {k: v for k, v in obj.items() if k != "model"}
    elif isinstance(obj, dict):
        state, meta = obj, {}
    else:
        raise CheckpointError(f"{path}: expected a state_dict or {{'model': state_dict}}, got {type(obj).__name__}")
    tensors = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors or "head.cls_preds.0.weight" not in tensors:
        raise CheckpointError(f"{path}: no YOLOX weights in this file (no head.cls_preds.0.weight)")
    return tensors, meta


def num_classes_of(state: dict[str, torch.Tensor]) -> int:
    return int(state["head.cls_preds.0.weight"].shape[0])


def infer_architecture(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """build_model keyword arguments matching the shapes of a state_dict."""
    nc = num_classes_of(state)
    if "backbone.backbone.stem.0.conv.weight" in state:
        return {"arch": "yolov3", "num_classes": nc, "act": "lrelu"}
    if "backbone.backbone.stem.conv.conv.weight" not in state:
        raise CheckpointError("state_dict is neither a YOLOX (CSPDarknet) nor a YOLOv3 (Darknet-53) model")
    base = state["backbone.backbone.stem.conv.conv.weight"].shape[0]
    width = base / 64
    depthwise = "backbone.backbone.dark2.0.dconv.conv.weight" in state
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"backbone\.backbone\.dark2\.1\.m\.(\d+)\.", k))}
    n = len(blocks)
    # Prefer the zoo's exact multipliers, since several depth values round to the same count.
    for spec in MODEL_ZOO.values():
        if spec.arch == "yolox" and int(spec.width * 64) == base and max(round(spec.depth * 3), 1) == n \
                and spec.depthwise == depthwise:
            return {"arch": "yolox", "depth": spec.depth, "width": spec.width, "depthwise": depthwise,
                    "num_classes": nc, "name_hint": spec.name}
    return {"arch": "yolox", "depth": n / 3, "width": width, "depthwise": depthwise, "num_classes": nc}


def model_from_state_dict(state: dict[str, torch.Tensor], *, source: str = "state_dict") -> tuple[YOLOX, str]:
    """Build the matching model and load the weights strictly; returns (model, zoo name or 'custom')."""
    kwargs = infer_architecture(state)
    name = kwargs.pop("name_hint", "yolov3" if kwargs["arch"] == "yolov3" else "custom")
    model = build_model(**kwargs)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:2]
        raise CheckpointError(f"{source}: weights do not fit the inferred {name} model: {' '.join(first)}") from None
    return model, name


def load_model(path: str | Path, *, num_classes: int | None = None) -> tuple[YOLOX, dict[str, Any]]:
    """Model with the checkpoint's weights, in eval mode, plus the checkpoint's metadata."""
    state, meta = load_checkpoint(path)
    nc = num_classes_of(state)
    if num_classes is not None and nc != num_classes:
        raise CheckpointError(f"{path}: checkpoint has {nc} classes but {num_classes} were expected")
    model, name = model_from_state_dict(state, source=str(path))
    meta = dict(meta)
    meta.setdefault("model_name", name)
    return model.eval(), meta


def save_checkpoint(path: str | Path, model: torch.nn.Module, **extra: Any) -> None:
    """Write `{"model": state_dict, **extra}`; extra holds plain values (loadable with weights_only)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".tmp")
    torch.save({"model": model.state_dict(), **extra}, tmp)
    tmp.replace(path)
