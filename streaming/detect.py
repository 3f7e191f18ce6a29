"""The detector as the streaming run sees it: loaded and mapped to the dataset's classes.

COCO-trained models (80 classes) are mapped to the dataset's classes with its `coco_mapping`
(Argoverse-HD's by default; 80 = dropped); models trained on the dataset's classes are used
as they are; anything else is a clear error.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from data.argoverse import ArgoverseHD
from data.classes import ARGOVERSE_HD_CLASSES, COCO_CLASSES, COCO_TO_ARGOVERSE_HD
from data.detections import Detections
from detector.runner import Detect, is_stateful, reset_stream
from streaming.config import StreamingConfig

if TYPE_CHECKING:  # the api imports the inference stack; only load_stream_detector needs it
    from detector.api import Detector


class ClassMismatchError(ValueError):
    pass


def demo_model_path() -> Path:
    """The bundled demo model (package data of `detector`)."""
    import detector

    return Path(detector.__file__).resolve().parent / "weights" / "yolox_demo.pth"


def load_stream_detector(cfg: StreamingConfig) -> Detector:
    """load_detector with the run's thresholds, device and input size; clear error if missing."""
    from detector import load_detector

    model = cfg.model
    if not model:
        path = demo_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: the bundled demo model is not there; pass --model FILE (a .pth, .onnx, "
                f"OpenVINO .xml or TensorRT .engine) or a zoo name"
            )
        model = str(path)
    kwargs: dict[str, Any] = {"conf_thresh": cfg.conf_thresh, "nms_thresh": cfg.nms_thresh, "device": cfg.device,
                              "backend": cfg.backend, "precision": cfg.precision or None}
    if cfg.input_size is not None:
        kwargs["input_size"] = tuple(cfg.input_size)
    if cfg.threads:
        kwargs["threads"] = cfg.threads
    return load_detector(model, **kwargs)


def _norm(name: str) -> str:
    return name.lower().replace("_", " ").strip()


def class_mapping(
    model_classes: Sequence[str] | None,
    num_classes: int,
    dataset_classes: Sequence[str],
    *,
    coco_mapping: Sequence[int] = (),
    model_name: str = "model",
) -> np.ndarray | None:
    """Model label -> dataset label (len(dataset_classes) = drop), or None when they agree."""
    dataset_classes = tuple(dataset_classes)
    if num_classes == len(dataset_classes) and (
        model_classes is None
        or [_norm(c) for c in model_classes] == [_norm(c) for c in dataset_classes]
        or tuple(model_classes) == tuple(f"class{i}" for i in range(num_classes))  # names unknown
    ):
        return None
    is_coco = num_classes == len(COCO_CLASSES) and (model_classes is None or tuple(model_classes) == COCO_CLASSES)
    if is_coco:
        mapping = tuple(coco_mapping) or (COCO_TO_ARGOVERSE_HD if dataset_classes == ARGOVERSE_HD_CLASSES else ())
        if mapping:
            # The mapping's "dropped" value is 80; re-express it as len(dataset_classes).
            return np.array([m if m < len(dataset_classes) else len(dataset_classes) for m in mapping], np.int64)
    shown = ", ".join(list(model_classes or ())[:5]) + (" ..." if model_classes and len(model_classes) > 5 else "")
    raise ClassMismatchError(
        f"{model_name}: detects {num_classes} classes ({shown or 'names unknown'}), which are neither "
        f"COCO's 80 (mappable) nor the dataset's {len(dataset_classes)} ({', '.join(dataset_classes)})"
    )


@dataclass
class MappedDetector:
    """Calls the detector and relabels its output into the dataset's classes."""

    detector: Detect
    mapping: np.ndarray | None  # model label -> dataset label; num_classes means dropped
    num_classes: int

    @property
    def stateful(self) -> bool:
        return is_stateful(self.detector)

    def reset(self) -> None:
        reset_stream(self.detector)

    def __call__(self, frames: list[np.ndarray]) -> list[Detections]:
        out = self.detector(frames)
        if self.mapping is None:
            return out
        mapped = []
        for dets in out:
            labels = self.mapping[dets.labels]
            keep = labels < self.num_classes
            mapped.append(Detections(dets.boxes[keep], dets.scores[keep], labels[keep]))
        return mapped


def map_to_dataset(det: Detector, dataset: ArgoverseHD, model_name: str) -> MappedDetector:
    """`det` relabelled into the dataset's classes (see the module docstring)."""
    classes = getattr(det, "classes", None)
    num = len(classes) if classes else int(getattr(det, "num_classes", 0))
    mapping = class_mapping(classes, num, dataset.classes, coco_mapping=getattr(dataset, "coco_mapping", ()),
                            model_name=model_name)
    return MappedDetector(det, mapping, len(dataset.classes))
