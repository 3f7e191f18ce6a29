"""Trend-Aware Loss: weights from hand-computed IoUs, and the loss renormalisation that keeps
the total while shifting the gradient between objects."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.losses import YOLOXLoss
from detector.model import build_model
from detector.tal import TrendConfig, trend_ious, trend_weights


def test_weights_follow_the_official_rule() -> None:
    cur = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [100, 0, 110, 10]], np.float32)
    cur_tracks = np.array([1, 2, 3])
    nxt = np.array([[0, 0, 10, 10],      # track 1 still: IoU 1
                    [52, 50, 62, 60],    # track 2 moved 2 px: IoU 80 / 120
                    [104, 0, 114, 10],   # track 3 moved 4 px: IoU 60 / 140 < 0.5 -> ignore value
                    [200, 0, 210, 10]],  # new object (track 9): IoU 0 -> ignore value
                   np.float32)
    nxt_tracks = np.array([1, 2, 3, 9])
    np.testing.assert_allclose(trend_ious(nxt, nxt_tracks, cur, cur_tracks), [1, 80 / 120, 60 / 140, 0], rtol=1e-6)
    w = trend_weights(nxt, nxt_tracks, cur, cur_tracks, TrendConfig(gamma=1.0, ignore_thr=0.5, ignore_value=1.5))
    np.testing.assert_allclose(w, [1.0, 1.5, 1 / 1.5, 1 / 1.5], rtol=1e-6)
    w2 = trend_weights(nxt, nxt_tracks, cur, cur_tracks, TrendConfig(gamma=2.0))
    assert w2[1] == pytest.approx(1.5 ** 2, rel=1e-6)


def test_track_ids_win_over_the_best_overlap() -> None:
    # Two crossing objects: by IoU the next box of track 1 overlaps track 2's current box more.
    cur = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], np.float32)
    nxt = np.array([[5, 0, 15, 10]], np.float32)
    assert trend_ious(nxt, np.array([1]), cur, np.array([1, 2]))[0] == pytest.approx(50 / 150)
    assert trend_ious(nxt, np.array([-1]), cur, np.array([1, 2]))[0] == pytest.approx(90 / 110)  # no track
    assert trend_ious(nxt, np.array([1]), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))[0] == 1.0


def test_bad_trend_config_is_refused() -> None:
    with pytest.raises(ValueError, match="TAL"):
        TrendConfig(ignore_value=0.0)


def test_weights_keep_the_loss_total_and_shift_the_gradient() -> None:
    torch.manual_seed(0)
    hw = (64, 96)
    model = build_model("yolox_nano", num_classes=2).train()
    images = torch.rand(1, 3, *hw) * 255
    boxes = torch.tensor([[[0, 20, 20, 12, 12], [1, 60, 40, 16, 14]]], dtype=torch.float32)
    loss_fn = YOLOXLoss(num_classes=2)
    raw = model(images)
    plain = loss_fn(raw, boxes, hw, use_l1=True)
    weighted_targets = torch.cat([boxes, torch.tensor([[[1.0], [4.0]]])], -1)
    weighted = loss_fn(raw, weighted_targets, hw, use_l1=True)
    for key in ("total_loss", "iou_loss", "l1_loss", "obj_loss", "cls_loss"):
        assert weighted[key].item() == pytest.approx(plain[key].item(), rel=1e-5), key
    g_plain = torch.autograd.grad(plain["total_loss"], raw, retain_graph=True)[0]
    g_weighted = torch.autograd.grad(weighted["total_loss"], raw)[0]
    assert not torch.allclose(g_plain[..., :4], g_weighted[..., :4])  # regression reweighted
    assert torch.allclose(g_plain[..., 4:], g_weighted[..., 4:])  # obj / cls untouched
    uniform = loss_fn(raw, torch.cat([boxes, torch.full((1, 2, 1), 3.0)], -1), hw, use_l1=True)
    g_uniform = torch.autograd.grad(uniform["total_loss"], raw)[0]
    assert torch.allclose(g_uniform, g_plain, atol=1e-6)  # equal weights change nothing
