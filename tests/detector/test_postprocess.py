"""Letterbox, decoding, class-aware NMS and post-processing on hand-made inputs."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from detector.grid import make_grid
from detector.postprocess import batched_nms, decode_outputs, nms, num_anchors, postprocess
from detector.preprocess import (LEGACY_MEAN_RGB, LEGACY_STD_RGB, FrameError, Letterboxer, letterbox_boxes,
                                 preprocess_batch, preprocess_frame, unletterbox_boxes)


# ---------------------------------------------------------------- letterbox
def test_letterbox_layout_matches_yolox_convention() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    frame[10:20, 30:40] = (0, 0, 200)
    out, r = preprocess_frame(frame, (224, 256))
    assert out.dtype == np.float32 and out.shape == (3, 224, 256)
    assert r == pytest.approx(min(224 / 100, 256 / 200))
    new_w, new_h = int(200 * r), int(100 * r)
    expected = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out[:, :new_h, :new_w], expected.transpose(2, 0, 1).astype(np.float32))
    assert (out[:, new_h:, :] == 114).all() and (out[:, :, new_w:] == 114).all()
    assert out[0, 0, 0] == 255 and out[2, 0, 0] == 0  # BGR order kept, no normalisation


def test_letterbox_legacy_is_normalised_rgb_including_padding() -> None:
    frame = np.zeros((64, 32, 3), np.uint8)
    frame[..., 0] = 255  # blue
    out, r = preprocess_frame(frame, (64, 64), legacy=True)
    assert r == 1.0
    blue_rgb = (np.array([0, 0, 255]) / 255.0 - LEGACY_MEAN_RGB) / LEGACY_STD_RGB
    np.testing.assert_allclose(out[:, 5, 5], blue_rgb, rtol=1e-6)
    pad = (114 / 255.0 - LEGACY_MEAN_RGB) / LEGACY_STD_RGB
    np.testing.assert_allclose(out[:, 5, 50], pad, rtol=1e-6)


@pytest.mark.parametrize("image_hw", [(480, 640), (1200, 1920), (300, 200), (640, 640), (57, 401), (401, 57)])
@pytest.mark.parametrize("input_hw", [(640, 640), (416, 416), (384, 640)])
def test_letterbox_round_trip_maps_boxes_back(image_hw: tuple[int, int], input_hw: tuple[int, int]) -> None:
    h, w = image_hw
    rng = np.random.default_rng(h * w)
    x1, y1 = rng.uniform(0, w * 0.5), rng.uniform(0, h * 0.5)
    box = np.array([[x1, y1, x1 + rng.uniform(1, w * 0.5), y1 + rng.uniform(1, h * 0.5)]], np.float32)
    _, r = preprocess_frame(np.zeros((h, w, 3), np.uint8), input_hw)
    back = unletterbox_boxes(letterbox_boxes(box, r), r, image_hw)
    assert np.abs(back - box).max() < 1e-3
    # The same through pixels: a bright rectangle, located in the network input, maps back within
    # a pixel of the original (plus one input pixel's worth when the frame is shrunk).
    frame = np.zeros((h, w, 3), np.uint8)
    bx = np.round(box[0]).astype(int)
    frame[bx[1]:bx[3], bx[0]:bx[2]] = 255
    canvas, r = preprocess_frame(frame, input_hw)
    ys, xs = np.nonzero(canvas[0] > 127)
    found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    mapped = unletterbox_boxes(found, r, image_hw)
    assert np.abs(mapped - bx).max() <= 1.0 + 1.0 / r


def test_preprocess_batch_and_bad_frames() -> None:
    frames = [np.full((50, 80, 3), 7, np.uint8), np.full((90, 30, 3), 9, np.uint8)]
    batch, ratios, sizes = preprocess_batch(frames, (64, 96))
    assert batch.shape == (2, 3, 64, 96) and sizes == [(50, 80), (90, 30)]
    np.testing.assert_allclose(ratios, [min(64 / 50, 96 / 80), min(64 / 90, 96 / 30)])
    np.testing.assert_array_equal(batch[1], preprocess_frame(frames[1], (64, 96))[0])
    with pytest.raises(FrameError, match="frame 1.*shape"):
        preprocess_batch([frames[0], np.zeros((10, 10), np.uint8)], (64, 64))
    with pytest.raises(FrameError, match="uint8"):
        preprocess_batch([np.zeros((10, 10, 3), np.float32)], (64, 64))
    with pytest.raises(FrameError, match="empty"):
        preprocess_batch([], (64, 64))
    with pytest.raises(FrameError, match="list"):
        preprocess_batch(frames[0], (64, 64))


def test_letterboxer_reuses_its_buffer_and_matches_preprocess_batch() -> None:
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, hw + (3,), dtype=np.uint8) for hw in [(50, 80), (90, 30), (64, 96), (20, 20)]]
    lb = Letterboxer(input_hw=(64, 96))
    first, ratios, sizes = lb(frames[:2])
    ref = preprocess_batch(frames[:2], (64, 96))
    np.testing.assert_array_equal(first, ref[0])  # same bytes as the plain path, padding included
    np.testing.assert_array_equal(ratios, ref[1])
    assert sizes == ref[2]
    second, _, _ = lb([frames[2]])  # an exact-size frame, then a smaller batch: the same memory
    assert np.shares_memory(first, second)
    np.testing.assert_array_equal(second, preprocess_batch([frames[2]], (64, 96))[0])
    third, _, _ = lb(frames)  # a bigger batch grows the buffer
    np.testing.assert_array_equal(third, preprocess_batch(frames, (64, 96))[0])
    legacy = Letterboxer(input_hw=(64, 96), legacy=True)(frames[:1])[0]
    np.testing.assert_array_equal(legacy, preprocess_batch(frames[:1], (64, 96), legacy=True)[0])
    with pytest.raises(FrameError, match="frame 1.*uint8"):
        lb([frames[0], frames[1].astype(np.float32)])
    with pytest.raises(FrameError, match="empty"):
        lb([])


# ---------------------------------------------------------------- NMS
def test_nms_same_class_suppressed_other_class_kept() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    labels = np.array([0, 0, 1, 0])
    keep = batched_nms(boxes, scores, labels, 0.5)
    assert keep.tolist() == [0, 2, 3]  # box 1 (IoU 0.68 with box 0, same class) suppressed
    assert nms(boxes, scores, 0.5).tolist() == [0, 3]  # class-agnostic: box 2 goes too
    assert batched_nms(boxes, scores, labels, 0.7).tolist() == [0, 1, 2, 3]  # 0.68 <= 0.7 keeps it
    assert batched_nms(boxes, scores, labels, 0.5, max_keep=2).tolist() == [0, 2]
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).tolist() == []


def test_nms_matches_opencv_batched_nms() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 300, (400, 2))
    wh = rng.uniform(5, 80, (400, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0.01, 1, 400).astype(np.float32)
    labels = rng.integers(0, 4, 400)
    for thresh in (0.3, 0.45, 0.65):
        ours = batched_nms(boxes, scores, labels, thresh)
        ref = cv2.dnn.NMSBoxesBatched([list(map(float, b)) for b in np.concatenate([xy, wh], 1)],
                                      scores.tolist(), labels.tolist(), 0.0, thresh)
        assert sorted(ours.tolist()) == sorted(np.asarray(ref).reshape(-1).tolist())
        assert (np.diff(scores[ours]) <= 0).all()  # highest score first


def _greedy_nms_reference(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float) -> list[int]:
    """The textbook loop, written out independently, to check the library NMS against."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            lt = np.maximum(boxes[i, :2], boxes[j, :2])
            rb = np.minimum(boxes[i, 2:], boxes[j, 2:])
            inter = float(np.prod(np.clip(rb - lt, 0, None)))
            union = float(np.prod(boxes[i, 2:] - boxes[i, :2]) + np.prod(boxes[j, 2:] - boxes[j, :2])) - inter
            if union > 0 and inter / union > iou_thresh:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def test_nms_ties_and_max_keep_cut_after_suppression() -> None:
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 100, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (300, 2))], 1).astype(np.float32)
    scores = rng.choice([0.2, 0.5, 0.9], 300).astype(np.float32)  # many ties
    ref = _greedy_nms_reference(boxes.astype(np.float64), scores, 0.5)
    assert nms(boxes, scores, 0.5).tolist() == ref  # same boxes in the same order, ties by index
    assert nms(boxes, scores, 0.5, max_keep=5).tolist() == ref[:5]  # the first 5 kept, not 5 candidates


# ---------------------------------------------------------------- decode + postprocess
def _raw_output(num_classes: int = 2) -> np.ndarray:
    """Raw head output for a 64x64 input: one confident anchor at stride-8 cell (x=3, y=2)."""
    n = num_anchors((64, 64))
    out = np.zeros((1, n, 5 + num_classes), np.float32)
    out[..., 2:4] = 0.0
    out[..., 4] = 0.001
    out[..., 5:] = 0.5
    k = 2 * 8 + 3  # row-major within the stride-8 level (8x8 cells)
    out[0, k, :4] = [0.5, 0.5, math.log(2.0), math.log(2.0)]
    out[0, k, 4] = 0.9
    out[0, k, 5:] = [0.1, 0.8]
    return out


def test_decode_and_postprocess_hand_made_anchor_numpy_and_torch() -> None:
    raw = _raw_output()
    grid, stride = make_grid((64, 64))
    assert len(stride) == 64 + 16 + 4
    decoded = decode_outputs(raw, (64, 64))
    np.testing.assert_allclose(decoded[0, 19, :4], [28, 20, 16, 16], rtol=1e-6)  # (3.5*8, 2.5*8, 2*8, 2*8)
    kwargs = dict(input_hw=(64, 64), ratios=[0.5], image_sizes=[(128, 128)], conf_thresh=0.3, nms_thresh=0.5)
    for out in (raw, torch.from_numpy(raw)):
        (dets,) = postprocess(out, decoded=False, **kwargs)
        assert len(dets) == 1 and dets.labels.tolist() == [1]
        np.testing.assert_allclose(dets.boxes, [[40, 24, 72, 56]], atol=1e-4)  # (20,12,36,28) / 0.5
        assert dets.scores[0] == pytest.approx(0.72)
    (same,) = postprocess(decoded, decoded=True, **kwargs)
    np.testing.assert_allclose(same.boxes, dets.boxes, atol=1e-4)
    torch_decoded = decode_outputs(torch.from_numpy(raw), (64, 64))
    np.testing.assert_allclose(torch_decoded.numpy(), decoded, rtol=1e-6)


def test_postprocess_threshold_max_det_multilabel_and_clipping() -> None:
    raw = _raw_output()
    kwargs = dict(input_hw=(64, 64), ratios=[1.0], image_sizes=[(30, 25)], decoded=False, nms_thresh=0.5)
    assert len(postprocess(raw, conf_thresh=0.73, **kwargs)[0]) == 0  # 0.72 < 0.73
    (one,) = postprocess(raw, conf_thresh=0.05, **kwargs)
    assert one.labels.tolist() == [1]
    np.testing.assert_allclose(one.boxes, [[20, 12, 25, 28]], atol=1e-4)  # clipped to the 25x30 image
    (both,) = postprocess(raw, conf_thresh=0.05, multi_label=True, **kwargs)
    assert sorted(both.labels.tolist()) == [0, 1]  # 0.09 and 0.72: same box, different classes
    # Many well-separated boxes: max_det keeps the best ones.
    out = np.zeros((1, num_anchors((64, 64)), 7), np.float32)
    out[0, :, 4] = np.linspace(0.2, 1.0, out.shape[1])
    out[0, :, 5] = 1.0
    (top,) = postprocess(out, input_hw=(64, 64), ratios=[1.0], image_sizes=[(64, 64)], decoded=False,
                         conf_thresh=0.1, nms_thresh=0.5, max_det=5)
    assert len(top) == 5
    assert top.scores[0] == pytest.approx(1.0) and (np.diff(top.scores) <= 0).all()


def test_postprocess_rejects_wrong_anchor_count() -> None:
    with pytest.raises(ValueError, match="anchors"):
        postprocess(np.zeros((1, 10, 7), np.float32), input_hw=(64, 64), ratios=[1.0], image_sizes=[(64, 64)],
                    decoded=False)
