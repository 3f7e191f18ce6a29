"""From head output to Detections: decode, score, threshold, class-aware NMS, map back.

The head output is `[B, N, 5 + C]` per anchor `[x, y, w, h, obj, cls...]` with sigmoid already
applied to obj and cls (eval mode). Boxes are either decoded (cx, cy, w, h in input pixels) or
raw regression (the official export default), in which case they are decoded here with the same
grid as the model (detector.grid). Score = obj * cls. By default each anchor keeps its best class,
as the official YOLOX postprocess does; `multi_label=True` keeps every (anchor, class) pair above
the threshold, which adds a little AP at low thresholds.

Both numpy arrays (ONNX Runtime, OpenVINO, TensorRT) and torch tensors (the torch backend, possibly
on a GPU) are accepted: torch outputs are decoded and thresholded on their device, and only the
surviving candidates come to the CPU for NMS.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from data.boxes import cxcywh_to_xyxy
from data.detections import Detections
from detector.grid import STRIDES, cached_grid, decode_boxes, feature_hws, torch_grid
from detector.preprocess import unletterbox_boxes

# Evaluation thresholds (COCO AP wants the low-score tail); demo ones are set in load_detector.
EVAL_CONF_THRESH = 0.01
EVAL_NMS_THRESH = 0.65


def num_anchors(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> int:
    return len(cached_grid(input_hw, strides)[1])


def decode_outputs(outputs: Any, input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> Any:
    """Raw-layout head output [..., N, 5+C] -> the same with boxes decoded to (cx, cy, w, h) pixels."""
    grid, stride = cached_grid(input_hw, strides)
    if outputs.shape[-2] != len(stride):
        raise ValueError(f"head output has {outputs.shape[-2]} anchors but an input of "
                         f"{input_hw[0]}x{input_hw[1]} has {len(stride)} (strides {strides})")
    if isinstance(outputs, np.ndarray):
        boxes = decode_boxes(outputs[..., :4].astype(np.float32), grid, stride)
        return np.concatenate([boxes, outputs[..., 4:]], axis=-1)
    import torch

    g, s = torch_grid(feature_hws(input_hw, strides), strides, dtype=outputs.dtype, device=outputs.device)
    return torch.cat([decode_boxes(outputs[..., :4], g, s), outputs[..., 4:]], dim=-1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float, *, max_keep: int | None = None) -> np.ndarray:
    """Greedy NMS on xyxy boxes; indices of the kept boxes, highest score first.

    A box is suppressed when its IoU with a kept box is > iou_thresh (torchvision/OpenCV rule).
    Ties in score keep the lower index first. Stops after `max_keep` boxes, which bounds the
    cost at low confidence thresholds where thousands of candidates survive.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    limit = len(order) if max_keep is None else max_keep
    while order.size and len(keep) < limit:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        if not rest.size:
            break
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        order = rest[iou <= iou_thresh]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_thresh: float, *,
                max_keep: int | None = None) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other.

    Each class is shifted to its own region of the plane (offset = label * (max coord + 1)), so a
    single NMS pass over all boxes never compares two classes.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    span = float(np.abs(boxes).max()) + 1.0
    shifted = boxes + (np.asarray(labels, dtype=np.float64) * span)[:, None]
    return nms(shifted, scores, iou_thresh, max_keep=max_keep)


def _candidates(pred: Any, conf_thresh: float, multi_label: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's decoded output [N, 5+C] -> (cxcywh boxes, scores, labels) above the threshold."""
    if isinstance(pred, np.ndarray):
        obj, cls = pred[:, 4:5], pred[:, 5:]
        if multi_label:
            anchor, label = np.nonzero(obj * cls >= conf_thresh)
            score = (obj[anchor, 0] * cls[anchor, label])
        else:
            label = cls.argmax(axis=1)
            score = obj[:, 0] * cls[np.arange(len(cls)), label]
            anchor = np.nonzero(score >= conf_thresh)[0]
            label, score = label[anchor], score[anchor]
        return pred[anchor, :4], score, label
    import torch

    obj, cls = pred[:, 4:5], pred[:, 5:]
    if multi_label:
        anchor, label = torch.nonzero(obj * cls >= conf_thresh, as_tuple=True)
        score = obj[anchor, 0] * cls[anchor, label]
    else:
        best, label = cls.max(dim=1)
        score = obj[:, 0] * best
        anchor = torch.nonzero(score >= conf_thresh, as_tuple=True)[0]
        label, score = label[anchor], score[anchor]
    as_np = lambda t: t.detach().float().cpu().numpy() if t.is_floating_point() else t.cpu().numpy()  # noqa: E731
    return as_np(pred[anchor, :4]), as_np(score), as_np(label)


def postprocess(outputs: Any, *, input_hw: tuple[int, int], ratios: Sequence[float],
                image_sizes: Sequence[tuple[int, int]], decoded: bool = True,
                conf_thresh: float = EVAL_CONF_THRESH, nms_thresh: float = EVAL_NMS_THRESH,
                max_det: int = 300, multi_label: bool = False, class_agnostic: bool = False,
                strides: tuple[int, ...] = STRIDES) -> list[Detections]:
    """Head output [B, N, 5+C] (numpy or torch) -> one Detections per image, in original pixels.

    ratios[i] and image_sizes[i] = (h, w) come from detector.preprocess.preprocess_batch.
    """
    if outputs.ndim != 3 or outputs.shape[-1] < 6:
        raise ValueError(f"expected head output of shape [B, N, 5 + C], got {tuple(outputs.shape)}")
    if len(ratios) != outputs.shape[0] or len(image_sizes) != outputs.shape[0]:
        raise ValueError(f"batch of {outputs.shape[0]} outputs but {len(ratios)} ratios / {len(image_sizes)} sizes")
    if not decoded:
        outputs = decode_outputs(outputs, input_hw, strides)
    results = []
    for b in range(outputs.shape[0]):
        cxcywh, scores, labels = _candidates(outputs[b], conf_thresh, multi_label)
        if len(scores) == 0:
            results.append(Detections.empty())
            continue
        boxes = cxcywh_to_xyxy(np.asarray(cxcywh, dtype=np.float32))
        finite = np.isfinite(boxes).all(axis=1)
        if not finite.all():  # exp() overflow (e.g. an fp16 engine): such a box cannot be mapped back
            boxes, scores, labels = boxes[finite], scores[finite], labels[finite]
        groups = np.zeros_like(labels) if class_agnostic else labels
        keep = batched_nms(boxes, scores, groups, nms_thresh, max_keep=max_det)
        boxes = unletterbox_boxes(boxes[keep], float(ratios[b]), image_sizes[b])
        results.append(Detections(boxes, scores[keep].astype(np.float32), labels[keep].astype(np.int64)))
    return results
