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

import cv2
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
    Ties in score keep the lower index first (OpenCV sorts stably). At most `max_keep` boxes.
    Boxes with a score of exactly 0 are dropped (OpenCV keeps scores > its threshold, which must be >= 0).
    """
    return batched_nms(boxes, scores, None, iou_thresh, max_keep=max_keep)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray | None, iou_thresh: float, *,
                max_keep: int | None = None) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other (labels None: one class).

    OpenCV's C++ NMS (cv2.dnn.NMSBoxes / NMSBoxesBatched, which shifts each class to its own region
    of the plane); the Python loop it replaced cost more than the network on crowded frames.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.empty_like(boxes)
    xywh[:, :2] = boxes[:, :2]
    np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None, out=xywh[:, 2:])  # a degenerate box has no area, as before
    scores = np.ascontiguousarray(scores, dtype=np.float32).reshape(-1)
    # OpenCV's top_k caps the candidates before suppression, not the kept boxes: cut afterwards.
    # Its greedy loop compares each candidate with the kept boxes only, so the uncut run stays cheap.
    if labels is None:
        keep = cv2.dnn.NMSBoxes(xywh, scores, 0.0, float(iou_thresh))
    else:
        ids = np.ascontiguousarray(labels, dtype=np.int32).reshape(-1)
        keep = cv2.dnn.NMSBoxesBatched(xywh, scores, ids, 0.0, float(iou_thresh))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    return keep if max_keep is None else keep[:max_keep]


def _candidates(pred: Any, conf_thresh: float, multi_label: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One image's output [N, 5+C] -> (box columns [K, 4], scores, labels, anchor indices) of the
    K (anchor, class) pairs above the threshold; the boxes as the output has them (decoded or raw)."""
    if isinstance(pred, np.ndarray):
        obj, cls = pred[:, 4], pred[:, 5:]
        if multi_label:
            anchor, label = np.nonzero(obj[:, None] * cls >= conf_thresh)
            score = obj[anchor] * cls[anchor, label]
        else:
            label = cls.argmax(axis=1)
            score = obj * np.take_along_axis(cls, label[:, None], axis=1)[:, 0]
            anchor = np.flatnonzero(score >= conf_thresh)
            label, score = label[anchor], score[anchor]
        return pred[anchor, :4], score, label, anchor
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
    return as_np(pred[anchor, :4]), as_np(score), as_np(label), as_np(anchor)


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
    # numpy: threshold first and decode only the survivors (a few dozen of thousands of anchors);
    # torch: decode on the device, where the whole tensor costs nothing extra.
    grid = None
    if not decoded:
        if isinstance(outputs, np.ndarray):
            grid = cached_grid(input_hw, strides)
            if outputs.shape[1] != len(grid[1]):
                raise ValueError(f"head output has {outputs.shape[1]} anchors but an input of "
                                 f"{input_hw[0]}x{input_hw[1]} has {len(grid[1])} (strides {strides})")
        else:
            outputs = decode_outputs(outputs, input_hw, strides)
    results = []
    for b in range(outputs.shape[0]):
        cxcywh, scores, labels, anchor = _candidates(outputs[b], conf_thresh, multi_label)
        if len(scores) == 0:
            results.append(Detections.empty())
            continue
        cxcywh = np.asarray(cxcywh, dtype=np.float32)
        if grid is not None:
            with np.errstate(over="ignore"):  # exp() overflow gives inf, dropped below
                cxcywh = decode_boxes(cxcywh, grid[0][anchor], grid[1][anchor])
        boxes = cxcywh_to_xyxy(cxcywh)
        finite = np.isfinite(boxes).all(axis=1)
        if not finite.all():  # exp() overflow (e.g. an fp16 engine): such a box cannot be mapped back
            boxes, scores, labels = boxes[finite], scores[finite], labels[finite]
        groups = None if class_agnostic else labels
        keep = batched_nms(boxes, scores, groups, nms_thresh, max_keep=max_det)
        boxes = unletterbox_boxes(boxes[keep], float(ratios[b]), image_sizes[b])
        results.append(Detections(boxes, scores[keep].astype(np.float32), labels[keep].astype(np.int64)))
    return results
