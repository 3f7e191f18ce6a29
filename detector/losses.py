"""YOLOX training loss on the head's raw output (B, N, 5 + C).

total = iou_weight x IoU loss + obj BCE (all anchors) + cls BCE (soft targets IoU x one-hot)
        [+ L1 on the raw regression], each summed over the batch and divided by max(num_fg, 1).
Targets are a padded tensor (B, M, 5) of (label, cx, cy, w, h) in input pixels; rows with a
negative label are padding. Label assignment is SimOTA (detector.assign). A sixth column, when
present, weights each object's IoU and L1 terms (StreamYOLO's trend-aware weights, detector.tal);
the weights are renormalised so that the weighted terms keep the unweighted totals, as
officially: they shift the loss between objects, not its scale.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from detector.assign import simota_assign
from detector.grid import STRIDES, anchor_centres, decode_boxes, feature_hws, torch_grid

IOU_TYPES = ("iou", "giou")


def iou_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "iou") -> torch.Tensor:
    """Per-box loss for (F,4) cx,cy,w,h boxes: "iou" = 1 - IoU^2 (official), "giou" = 1 - GIoU."""
    p_tl, p_br = pred[:, :2] - pred[:, 2:] / 2, pred[:, :2] + pred[:, 2:] / 2
    t_tl, t_br = target[:, :2] - target[:, 2:] / 2, target[:, :2] + target[:, 2:] / 2
    wh = (torch.min(p_br, t_br) - torch.max(p_tl, t_tl)).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = pred[:, 2] * pred[:, 3] + target[:, 2] * target[:, 3] - inter
    iou = inter / (union + 1e-16)
    if kind == "iou":
        return 1 - iou ** 2
    if kind == "giou":
        enclose = (torch.max(p_br, t_br) - torch.min(p_tl, t_tl)).clamp(min=0)
        area_c = enclose[:, 0] * enclose[:, 1]
        giou = iou - (area_c - union) / area_c.clamp(min=1e-16)
        return 1 - giou.clamp(min=-1.0, max=1.0)
    raise ValueError(f"unknown IoU loss type {kind!r} (expected one of {', '.join(IOU_TYPES)})")


def l1_targets(gt_cxcywh: torch.Tensor, grid_xy: torch.Tensor, stride: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Encode boxes back to the raw regression space: xy offset in cells, log(size / stride)."""
    s = stride[:, None]
    return torch.cat([gt_cxcywh[:, :2] / s - grid_xy, torch.log(gt_cxcywh[:, 2:] / s + eps)], dim=1)


class YOLOXLoss:
    """Callable: loss(raw (B,N,5+C), targets (B,M,5), input_hw, use_l1) -> dict of scalars."""

    def __init__(self, *, num_classes: int, strides: tuple[int, ...] = STRIDES, iou_weight: float = 5.0,
                 iou_type: str = "iou", center_radius: float = 1.5, candidate_rule: str = "center") -> None:
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.iou_weight = iou_weight
        self.iou_type = iou_type
        self.center_radius = center_radius
        self.candidate_rule = candidate_rule
        self._grids: dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def grid(self, input_hw: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (input_hw[0], input_hw[1], str(device))
        if key not in self._grids:
            self._grids[key] = torch_grid(feature_hws(input_hw, self.strides), self.strides, device=device)
        return self._grids[key]

    def __call__(self, raw: torch.Tensor, targets: torch.Tensor, input_hw: tuple[int, int],
                 use_l1: bool = False) -> dict[str, torch.Tensor]:
        b, n, ch = raw.shape
        if ch != 5 + self.num_classes:
            raise ValueError(f"model output has {ch - 5} classes but the loss expects {self.num_classes}")
        grid_xy, stride = self.grid(input_hw, raw.device)
        if grid_xy.shape[0] != n:
            raise ValueError(f"model output has {n} anchors but input {input_hw} gives {grid_xy.shape[0]}")
        raw = raw if raw.dtype == torch.float64 else raw.float()  # float32 at least; float64 stays
        boxes = decode_boxes(raw[..., :4], grid_xy, stride)
        obj, cls = raw[..., 4], raw[..., 5:]
        anchor_xy = anchor_centres(grid_xy, stride)

        weighted = targets.shape[-1] > 5
        fg_masks, box_t, cls_t, l1_t, w_t = [], [], [], [], []
        for i in range(b):
            valid = targets[i, :, 0] >= 0
            gt = targets[i, valid]
            gt_boxes, gt_labels = gt[:, 1:5].to(raw.dtype), gt[:, 0].long()
            a = simota_assign(boxes[i].detach(), obj[i].detach(), cls[i].detach(), gt_boxes, gt_labels,
                              anchor_xy, stride, center_radius=self.center_radius,
                              candidate_rule=self.candidate_rule)
            fg_masks.append(a.fg_mask)
            if a.num_fg:
                matched = gt_boxes[a.matched_gt]
                box_t.append(matched)
                cls_t.append(F.one_hot(gt_labels[a.matched_gt], self.num_classes).to(raw.dtype) * a.matched_iou[:, None])
                if weighted:
                    w_t.append(gt[:, 5].to(raw.dtype)[a.matched_gt])
                if use_l1:
                    l1_t.append(l1_targets(matched, grid_xy[a.fg_mask], stride[a.fg_mask]))
        fg = torch.stack(fg_masks)  # (B, N)
        num_fg = max(int(fg.sum()), 1)
        obj_loss = F.binary_cross_entropy_with_logits(obj, fg.to(raw.dtype), reduction="sum") / num_fg
        zero = (raw * 0.0).sum().abs()  # keeps the graph connected when a batch has no objects
        if box_t:
            box_target = torch.cat(box_t)
            per_box = iou_loss(boxes[fg], box_target, self.iou_type)
            weights = torch.cat(w_t) if weighted else None
            iou_l = _weighted_sum(per_box, weights) / num_fg
            cls_l = F.binary_cross_entropy_with_logits(cls[fg], torch.cat(cls_t), reduction="sum") / num_fg
            if use_l1:
                per_coord = F.l1_loss(raw[..., :4][fg], torch.cat(l1_t), reduction="none")
                l1_l = _weighted_sum(per_coord, None if weights is None else weights[:, None].expand_as(per_coord))
                l1_l = l1_l / num_fg
            else:
                l1_l = zero
        else:
            iou_l = cls_l = l1_l = zero
        total = self.iou_weight * iou_l + obj_loss + cls_l + l1_l
        return {"total_loss": total, "iou_loss": iou_l.detach(), "obj_loss": obj_loss.detach(),
                "cls_loss": cls_l.detach(), "l1_loss": l1_l.detach(), "num_fg": torch.tensor(float(fg.sum()))}


def _weighted_sum(losses: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """sum(w' * loss) with w' = w * sum(loss) / sum(w * loss), a constant (no gradient): the total
    stays sum(loss) while each term's share follows w (the official TAL renormalisation)."""
    if weights is None:
        return losses.sum()
    scale = (weights * losses.sum() / (weights * losses).sum().clamp(min=1e-12)).detach()
    return (scale * losses).sum()
