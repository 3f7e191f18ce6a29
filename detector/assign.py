"""SimOTA label assignment (YOLOX), separate from the model so it can be tested on its own.

Per image: candidate anchors are chosen by geometry, a cost matrix (classification BCE + 3 x
-log IoU + a large penalty for non-candidate pairs) is built for the candidates, each ground
truth takes its `dynamic k` cheapest anchors (k = int(sum of its top-10 IoUs), at least 1),
and an anchor claimed by several ground truths keeps the cheapest one.

Candidate rules (`candidate_rule`):
  * "center" (default; what the current official code does, radius 1.5): an anchor centre must
    lie within `center_radius` strides of a GT centre (a square of side 2 x radius x stride);
    the penalty applies to pairs where it is not within that GT's square.
  * "box_or_center" (the paper-era code, radius 2.5): candidates are anchors inside any GT box
    or any centre square; the penalty applies unless the anchor is inside the box AND the
    centre square of that GT.
The loop over images is per image (typically a few hundred candidates each); the batch is not
vectorised because images have different numbers of objects.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

CANDIDATE_RULES = ("center", "box_or_center")


@dataclass
class Assignment:
    """fg_mask (N,) bool; for the foreground anchors in index order: matched_gt (F,) index into
    the image's GTs, matched_iou (F,) IoU of the prediction with its GT."""

    fg_mask: torch.Tensor
    matched_gt: torch.Tensor
    matched_iou: torch.Tensor

    @property
    def num_fg(self) -> int:
        return int(self.fg_mask.sum())


def pairwise_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU between (G,4) and (P,4) boxes in cx,cy,w,h -> (G,P)."""
    a_tl, a_br = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b_tl, b_br = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    wh = (torch.min(a_br, b_br) - torch.max(a_tl, b_tl)).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = (a[:, None, 2] * a[:, None, 3]) + (b[None, :, 2] * b[None, :, 3]) - inter
    return inter / (union + 1e-16)


def geometry(gt_cxcywh: torch.Tensor, anchor_xy: torch.Tensor, stride: torch.Tensor, *,
             center_radius: float, rule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(candidate mask (N,), per-GT "good pair" mask (G, N)); anchor_xy are anchor centres."""
    if rule not in CANDIDATE_RULES:
        raise ValueError(f"unknown SimOTA candidate rule {rule!r}; expected one of {CANDIDATE_RULES}")
    dxy = (anchor_xy[None, :, :] - gt_cxcywh[:, None, :2]).abs()  # (G, N, 2)
    radius = (center_radius * stride)[None, :, None]
    in_center = (dxy < radius).all(-1)
    if rule == "center":
        return in_center.any(0), in_center
    in_box = (dxy < gt_cxcywh[:, None, 2:] / 2).all(-1)
    return (in_box | in_center).any(0), in_box & in_center


def dynamic_k_matching(cost: torch.Tensor, ious: torch.Tensor, *, topk: int = 10
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """cost, ious: (G, P) over candidate anchors. Returns (matched (P,) bool, gt index (P,))."""
    g, p = cost.shape
    matching = torch.zeros_like(cost, dtype=torch.bool)
    n_top = min(topk, p)
    top_ious, _ = torch.topk(ious, n_top, dim=1)
    ks = top_ious.sum(1).int().clamp(min=1).tolist()
    for gi, k in enumerate(ks):
        _, idx = torch.topk(cost[gi], k=min(k, p), largest=False)
        matching[gi, idx] = True
    multiple = matching.sum(0) > 1
    if multiple.any():
        best = cost[:, multiple].argmin(0)
        matching[:, multiple] = False
        matching[best, multiple.nonzero(as_tuple=True)[0]] = True
    matched = matching.any(0)
    gt_index = matching.float().argmax(0)
    return matched, gt_index


@torch.no_grad()
def simota_assign(pred_cxcywh: torch.Tensor, obj_logit: torch.Tensor, cls_logit: torch.Tensor,
                  gt_cxcywh: torch.Tensor, gt_labels: torch.Tensor, anchor_xy: torch.Tensor, stride: torch.Tensor,
                  *, center_radius: float = 1.5, candidate_rule: str = "center", iou_weight: float = 3.0,
                  off_candidate_cost: float = 1e5, topk: int = 10) -> Assignment:
    """Assign one image's anchors. pred_cxcywh (N,4) decoded predictions in input pixels,
    obj_logit (N,), cls_logit (N,C), gt_cxcywh (G,4), gt_labels (G,), anchor_xy (N,2) anchor
    centres ((grid + 0.5) * stride), stride (N,)."""
    n = pred_cxcywh.shape[0]
    device = pred_cxcywh.device
    empty = Assignment(torch.zeros(n, dtype=torch.bool, device=device),
                       torch.zeros(0, dtype=torch.long, device=device), torch.zeros(0, device=device))
    if gt_cxcywh.shape[0] == 0:
        return empty
    candidates, good_pair = geometry(gt_cxcywh, anchor_xy, stride, center_radius=center_radius,
                                     rule=candidate_rule)
    cand_idx = candidates.nonzero(as_tuple=True)[0]
    if cand_idx.numel() == 0:
        return empty
    # float32 (whatever the network ran in), or float64 when it ran in float64: a float32 cast
    # of float64 outputs makes near-tied costs pick anchors by rounding.
    dtype = torch.float64 if pred_cxcywh.dtype == torch.float64 else torch.float32
    boxes = pred_cxcywh[cand_idx].to(dtype)
    ious = pairwise_iou_cxcywh(gt_cxcywh.to(dtype), boxes)
    # The cost uses the joint score sqrt(cls * obj), as the official implementation does.
    scores = (cls_logit[cand_idx].to(dtype).sigmoid() * obj_logit[cand_idx].to(dtype).sigmoid()[:, None]).sqrt()
    onehot = F.one_hot(gt_labels.long(), cls_logit.shape[1]).to(dtype)
    g, p = ious.shape
    cls_cost = F.binary_cross_entropy(scores[None].expand(g, p, -1), onehot[:, None].expand(g, p, -1),
                                      reduction="none").sum(-1)
    cost = cls_cost + iou_weight * -torch.log(ious + 1e-8) + off_candidate_cost * (~good_pair[:, cand_idx]).to(dtype)
    matched, gt_index = dynamic_k_matching(cost, ious, topk=topk)
    fg_mask = torch.zeros(n, dtype=torch.bool, device=device)
    fg_mask[cand_idx[matched]] = True
    matched_gt = gt_index[matched]
    matched_iou = ious[matched_gt, matched.nonzero(as_tuple=True)[0]]
    return Assignment(fg_mask, matched_gt, matched_iou)
