"""Reading and writing checkpoints in the official YOLOX format.

A checkpoint is `{"model": state_dict, ...}` (training checkpoints also carry "optimizer",
"start_epoch", ...) or a bare state_dict. The architecture and the number of classes are read from
the tensor shapes, so an official release file needs nothing else.

Checkpoints written here also carry `"metadata"`: the same `ModelMetadata` exported graphs carry,
as the same flat string map (`ModelMetadata.to_strings`), which `torch.load(weights_only=True)`
reads. `read_metadata` is the one reader; it also understands the flat keys (`model_name`,
`classes`, `input_size`, `legacy`) of checkpoints written before the typed metadata.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from detector.backends.base import ModelMetadata
from detector.model import YOLOX, build_model
from detector.streamyolo import STREAMYOLO_MODELS, StreamYOLO, build_streamyolo, is_streamyolo_state, stream_name_of
from detector.zoo import MODEL_ZOO

METADATA_KEY = "metadata"
FLAT_METADATA_KEYS = ("model_name", "classes", "input_size", "legacy")
# load_model's name for weights that match no zoo architecture; never a model's recorded name.
CUSTOM = "custom"


class CheckpointError(ValueError):
    pass


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, entries) of a .pth file; entries hold every non-model item (see read_metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler raises many types (IndexError, UnpicklingError, ...) on junk
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {str(e)[:120]})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        state, entries = obj["model"], {k: v for k, v in obj.items() if k != "model"}
    elif isinstance(obj, dict):
        state, entries = obj, {}
    else:
        raise CheckpointError(f"{path}: expected a state_dict or {{'model': state_dict}}, got {type(obj).__name__}")
    tensors = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors or "head.cls_preds.0.weight" not in tensors:
        raise CheckpointError(f"{path}: no YOLOX weights in this file (no head.cls_preds.0.weight)")
    return tensors, entries


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
    """Build the matching model and load the weights strictly; returns (model, zoo name or CUSTOM)."""
    kwargs = infer_architecture(state)
    name = kwargs.pop("name_hint", "yolov3" if kwargs["arch"] == "yolov3" else CUSTOM)
    if is_streamyolo_state(state):  # DFP weights: the StreamYOLO of the same backbone
        kwargs.pop("arch")
        name = stream_name_of(name) or CUSTOM
        model: YOLOX = build_streamyolo(**kwargs)
    else:
        model = build_model(**kwargs)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:2]
        raise CheckpointError(f"{source}: weights do not fit the inferred {name} model: {' '.join(first)}") from None
    return model, name


def read_metadata(entries: dict[str, Any], *, source: str) -> ModelMetadata:
    """The typed metadata of a checkpoint's non-model entries; `None` fields were not recorded."""
    if METADATA_KEY in entries:
        props = entries[METADATA_KEY]
        if not isinstance(props, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
            raise CheckpointError(f"{source}: checkpoint {METADATA_KEY!r} must be a map of strings "
                                  f"(ModelMetadata.to_strings), got {type(props).__name__}")
        return ModelMetadata.from_strings(props, source=source)
    props = {}
    name = entries.get("model_name")
    if isinstance(name, str):
        props["model_name"] = name
    for key in FLAT_METADATA_KEYS[1:]:
        if entries.get(key) is not None:
            try:
                props[key] = json.dumps(list(entries[key]) if isinstance(entries[key], tuple) else entries[key])
            except TypeError:
                raise CheckpointError(f"{source}: checkpoint {key!r} is not a plain value: {entries[key]!r}") from None
    return ModelMetadata.from_strings(props, source=source)


def complete_metadata(meta: ModelMetadata, *, inferred_name: str, source: str,
                      zoo_name: str | None = None) -> ModelMetadata:
    """Fill what a checkpoint did not record: the name (zoo name asked for, recorded, inferred
    from the shapes, else the file stem), then input size and legacy from that zoo model."""
    recorded = meta.model_name if meta.model_name != CUSTOM else None
    inferred = inferred_name if inferred_name != CUSTOM else None
    name = zoo_name or recorded or inferred or Path(source).stem
    spec = MODEL_ZOO.get(name) or STREAMYOLO_MODELS.get(name)
    return ModelMetadata(
        model_name=name, classes=meta.classes,
        input_size=meta.input_size or (spec.input_size if spec else None),
        decoded=meta.decoded,
        legacy=meta.legacy if meta.legacy is not None else getattr(spec, "legacy", False),
        strides=meta.strides, forecast_frames=meta.forecast_frames)


def load_model(path: str | Path, *, num_classes: int | None = None, zoo_name: str | None = None
               ) -> tuple[YOLOX, ModelMetadata]:
    """Model with the checkpoint's weights, in eval mode, plus its metadata completed by
    `complete_metadata` (a name, and input size / legacy where the zoo knows them)."""
    state, entries = load_checkpoint(path)
    nc = num_classes_of(state)
    if num_classes is not None and nc != num_classes:
        raise CheckpointError(f"{path}: checkpoint has {nc} classes but {num_classes} were expected")
    model, name = model_from_state_dict(state, source=str(path))
    meta = read_metadata(entries, source=str(path))
    if meta.classes is not None and len(meta.classes) != nc:
        raise CheckpointError(f"{path}: metadata lists {len(meta.classes)} classes but the weights have {nc}")
    meta = complete_metadata(meta, inferred_name=name, source=str(path), zoo_name=zoo_name)
    if isinstance(model, StreamYOLO) and meta.forecast_frames is None:  # an official file: no metadata
        meta.forecast_frames = model.forecast_frames
    return model.eval(), meta


def save_checkpoint(path: str | Path, model: torch.nn.Module, metadata: ModelMetadata | None = None,
                    **extra: Any) -> None:
    """Write `{"model": state_dict, "metadata": metadata.to_strings(), **extra}`; extra holds plain
    values (loadable with weights_only). Metadata fields given flat (`model_name=`, `classes=`,
    `input_size=`, `legacy=`) are folded into the typed metadata."""
    flat = {k: extra.pop(k) for k in FLAT_METADATA_KEYS if k in extra}
    if flat and metadata is not None:
        raise TypeError(f"give the metadata either as ModelMetadata or as keywords, not both ({', '.join(flat)})")
    meta = metadata if metadata is not None else read_metadata(flat, source=str(path))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".tmp")
    torch.save({"model": model.state_dict(), METADATA_KEY: meta.to_strings(), **extra}, tmp)
    tmp.replace(path)
