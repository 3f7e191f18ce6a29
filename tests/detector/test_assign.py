"""SimOTA on hand-made cases: dynamic k, conflict resolution, empty targets, candidate rules."""
from __future__ import annotations

import math

import torch

from detector.assign import dynamic_k_matching, geometry, simota_assign
from detector.grid import make_grid

LOGIT_HIGH = 4.0


def anchors(hw=(64, 64)):
    grid, stride = make_grid(hw)
    grid, stride = torch.from_numpy(grid), torch.from_numpy(stride)
    return grid, stride, (grid + 0.5) * stride[:, None]


def perfect_predictions(anchor_xy, stride, gt, labels, num_classes=3):
    """Every anchor predicts a fixed-size box at its own centre; class logits neutral."""
    n = anchor_xy.shape[0]
    pred = torch.cat([anchor_xy, torch.full((n, 2), 24.0)], dim=1)
    obj = torch.zeros(n)
    cls = torch.zeros(n, num_classes)
    return pred, obj, cls


def test_dynamic_k_is_int_of_top10_iou_sum_min_1():
    # One GT, 12 candidates: IoUs sum of top 10 = 10 * 0.35 = 3.5 -> k = 3.
    ious = torch.tensor([[0.35] * 10 + [0.1, 0.05]])
    cost = torch.arange(12, dtype=torch.float32)[None]
    matched, gt = dynamic_k_matching(cost, ious)
    assert matched.tolist() == [True] * 3 + [False] * 9
    # Tiny IoUs still give one match (k clamped to 1), the cheapest anchor.
    ious = torch.full((1, 5), 0.01)
    cost = torch.tensor([[5.0, 1.0, 3.0, 4.0, 2.0]])
    matched, _ = dynamic_k_matching(cost, ious)
    assert matched.tolist() == [False, True, False, False, False]


def test_conflict_keeps_lowest_cost_gt():
    # k = int(2.1) = 2 for both GTs; both want anchor 0, GT 1 is cheaper there.
    ious = torch.tensor([[0.9, 0.9, 0.3], [0.9, 0.3, 0.9]])
    cost = torch.tensor([[1.0, 2.0, 9.0], [0.5, 9.0, 3.0]])
    matched, gt = dynamic_k_matching(cost, ious)
    assert matched.tolist() == [True, True, True]
    assert gt.tolist() == [1, 0, 1]
    # Reverse the costs at anchor 0: now GT 0 keeps it.
    cost[0, 0], cost[1, 0] = 0.2, 0.7
    matched, gt = dynamic_k_matching(cost, ious)
    assert gt.tolist() == [0, 0, 1]


def test_empty_targets_assign_all_background():
    grid, stride, axy = anchors()
    pred, obj, cls = perfect_predictions(axy, stride, None, None)
    a = simota_assign(pred, obj, cls, torch.zeros((0, 4)), torch.zeros(0, dtype=torch.long), axy, stride)
    assert a.num_fg == 0 and not a.fg_mask.any() and a.matched_gt.numel() == 0


def test_off_candidate_anchors_never_assigned_and_each_gt_gets_one():
    grid, stride, axy = anchors((128, 128))
    gt = torch.tensor([[40.0, 40.0, 24.0, 24.0], [96.0, 90.0, 48.0, 30.0]])
    labels = torch.tensor([0, 2])
    pred, obj, cls = perfect_predictions(axy, stride, gt, labels)
    for radius, rule in ((1.5, "center"), (2.5, "box_or_center")):
        a = simota_assign(pred, obj, cls, gt, labels, axy, stride, center_radius=radius, candidate_rule=rule)
        cand, good = geometry(gt, axy, stride, center_radius=radius, rule=rule)
        fg = a.fg_mask.nonzero(as_tuple=True)[0]
        assert a.num_fg >= 2
        assert cand[fg].all()
        # every match is a "good pair": inside its own GT's centre region (and box for the old rule)
        assert good[a.matched_gt, fg].all()
        assert set(a.matched_gt.tolist()) == {0, 1}
        assert torch.all(a.matched_iou > 0)


def test_center_rule_radius_in_strides():
    grid, stride, axy = anchors((64, 64))
    gt = torch.tensor([[32.0, 32.0, 4.0, 4.0]])
    cand, _ = geometry(gt, axy, stride, center_radius=1.5, rule="center")
    d = (axy - gt[:, :2]).abs()
    expected = (d < 1.5 * stride[:, None]).all(1)
    assert torch.equal(cand, expected)
    # stride 8 anchors within 12 px of (32, 32): centres 20, 28, 36, 44 -> 28, 36 and 20/44 are at 12 (excluded)
    s8 = stride == 8
    assert int(cand[s8].sum()) == 4


def test_box_or_center_rule_includes_in_box_anchors():
    grid, stride, axy = anchors((64, 64))
    gt = torch.tensor([[32.0, 32.0, 60.0, 60.0]])
    cand_c, _ = geometry(gt, axy, stride, center_radius=2.5, rule="center")
    cand_b, good_b = geometry(gt, axy, stride, center_radius=2.5, rule="box_or_center")
    assert cand_b.sum() > cand_c.sum()
    assert (good_b[0] <= cand_b).all()


def test_better_prediction_wins_assignment():
    grid, stride, axy = anchors((64, 64))
    gt = torch.tensor([[30.0, 30.0, 16.0, 16.0]])
    labels = torch.tensor([1])
    n = axy.shape[0]
    pred = torch.cat([axy, torch.full((n, 2), 2.0)], dim=1)  # all tiny boxes: IoU ~ 0
    best = int(((axy - gt[0, :2]).abs().sum(1)).argmin())
    pred[best] = gt[0]
    obj = torch.full((n,), -LOGIT_HIGH)
    cls = torch.full((n, 3), -LOGIT_HIGH)
    a = simota_assign(pred, obj, cls, gt, labels, axy, stride)
    assert a.num_fg == 1  # sum of top-10 IoUs ~ 1.0 -> k = 1
    assert a.fg_mask[best]
    assert math.isclose(float(a.matched_iou[0]), 1.0, rel_tol=1e-5)
