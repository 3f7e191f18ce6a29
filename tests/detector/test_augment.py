"""Augmentations keep boxes consistent with pixels: a filled box of a unique colour must be
enclosed tightly by its transformed box after flip, affine, mosaic, mixup and letterbox."""
from __future__ import annotations

import numpy as np
import pytest

from detector.augment import hflip, hsv_jitter, mixup, random_affine, random_crop
from detector.mosaic import mosaic
from detector.preprocess import letterbox_image
from detector.train_data import random_input_size

COLOURS = [(255, 0, 255), (0, 255, 255), (255, 255, 0), (0, 0, 255)]


def scene(colour, box, hw=(120, 160)):
    img = np.full((*hw, 3), 100, np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = colour
    return img, np.array([box], np.float32), np.array([0], np.int64)


def pixel_box(img, colour, tol=60):
    """Enclosing box (x1, y1, x2, y2) of pixels near `colour` (edge convention: x2 = last + 1)."""
    mask = (np.abs(img.astype(int) - np.array(colour)).sum(-1) < tol)
    if mask.sum() < 4:
        return None
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def assert_tight(img, colour, box, tol=2.5):
    pb = pixel_box(img, colour)
    assert pb is not None, "coloured pixels vanished"
    assert np.abs(pb - box).max() <= tol, f"box {box} vs pixels {pb}"


def test_hflip_box_matches_pixels():
    img, boxes, _ = scene(COLOURS[0], (10, 20, 50, 70))
    out, ob = hflip(img, boxes)
    assert_tight(out, COLOURS[0], ob[0], tol=0)


def test_letterbox_box_matches_pixels():
    img, boxes, _ = scene(COLOURS[1], (30, 10, 90, 60), hw=(300, 480))
    out, r = letterbox_image(img, (160, 224))
    assert out.shape == (160, 224, 3)
    assert r == pytest.approx(min(160 / 300, 224 / 480))
    assert (out[141:, :] == 114).all()  # 300 * r = 140 rows of image, the rest is padding
    assert_tight(out, COLOURS[1], boxes[0] * r, tol=1.5)


@pytest.mark.parametrize("seed", range(6))
def test_random_affine_box_encloses_pixels(seed):
    img, boxes, labels = scene(COLOURS[2], (40, 30, 110, 90))
    rng = np.random.default_rng(seed)
    out, ob, ol = random_affine(img, boxes, labels, rng, out_hw=(128, 160), degrees=10, translate=0.1,
                                scale=(0.7, 1.3), shear=2)
    assert out.shape == (128, 160, 3)
    if len(ob):
        assert_tight(out, COLOURS[2], ob[0])


@pytest.mark.parametrize("seed", range(6))
def test_mosaic_boxes_enclose_their_pixels(seed):
    rng = np.random.default_rng(seed)
    imgs, boxes, labels = [], [], []
    for k, c in enumerate(COLOURS):
        img, b, _ = scene(c, (30 + 5 * k, 25, 100, 85))
        imgs.append(img)
        boxes.append(b)
        labels.append(np.array([k], np.int64))
    # Without rotation the clipped boxes stay tight; with rotation a clipped enclosing box may
    # be a little loose at the image edge, but it must still enclose the pixels.
    out, ob, ol = mosaic(imgs, boxes, labels, (128, 160), rng, scale=(0.5, 1.0), degrees=0, shear=0)
    assert out.shape == (128, 160, 3)
    assert len(ob) == len(ol) and len(ob) > 0
    assert ((ob[:, 2] > ob[:, 0]) & (ob[:, 3] > ob[:, 1])).all()
    for box, lab in zip(ob, ol):
        assert_tight(out, COLOURS[lab], box)
    out, ob, ol = mosaic(imgs, boxes, labels, (128, 160), np.random.default_rng(seed), scale=(0.5, 1.5))
    for box, lab in zip(ob, ol):
        pb = pixel_box(out, COLOURS[lab])
        if pb is not None:
            assert (pb[:2] >= box[:2] - 1.5).all() and (pb[2:] <= box[2:] + 1.5).all()
            assert np.abs(pb - box).max() <= 6


@pytest.mark.parametrize("seed", range(6))
def test_random_crop_keeps_pixel_scale_and_clips_boxes(seed):
    img, boxes, labels = scene(COLOURS[3], (40, 30, 110, 90), hw=(120, 160))
    rng = np.random.default_rng(seed)
    out, ob, ol = random_crop(img, boxes, labels, rng, crop_hw=(64, 96))
    assert out.shape == (64, 96, 3)
    if len(ob):  # whatever of the box is in the window, at the same pixel size
        assert_tight(out, COLOURS[3], ob[0], tol=0)
        assert ol.tolist() == [0]
    else:
        pb = pixel_box(out, COLOURS[3])
        assert pb is None or (pb[2] - pb[0]) * (pb[3] - pb[1]) < 0.1 * 70 * 60


def test_random_crop_pads_an_image_smaller_than_the_window():
    img, boxes, labels = scene(COLOURS[3], (40, 30, 110, 90), hw=(120, 160))
    out, ob, ol = random_crop(img, boxes, labels, np.random.default_rng(0), crop_hw=(128, 160))
    assert out.shape == (128, 160, 3)
    assert (out[120:] == 114).all() and np.array_equal(out[:120], img)
    np.testing.assert_array_equal(ob, boxes)


@pytest.mark.parametrize("seed", range(6))
def test_random_crop_with_a_scale_range_resizes_boxes_with_pixels(seed):
    img, boxes, labels = scene(COLOURS[0], (40, 30, 110, 90), hw=(120, 160))
    out, ob, ol = random_crop(img, boxes, labels, np.random.default_rng(seed), crop_hw=(96, 128),
                              scale=(0.4, 0.7))
    assert out.shape == (96, 128, 3)
    assert len(ob) == 1  # the resized image (at most 84 x 112) fits the window whole
    assert_tight(out, COLOURS[0], ob[0], tol=1.5)


def test_mixup_keeps_both_sets_of_boxes():
    rng = np.random.default_rng(0)
    a, ab, al = scene((255, 255, 255), (10, 10, 60, 60))
    b, bb, bl = scene((0, 0, 0), (80, 50, 150, 110))
    out, boxes, labels = mixup(a, ab, al, b, bb, bl + 1, rng, scale=(1.0, 1.0), flip_prob=0.0)
    assert out.shape == a.shape
    assert len(boxes) == 2 and list(labels) == [0, 1]
    # blended pixels: the first box is now mid-grey-ish, still aligned with its box
    assert np.abs(boxes[1] - bb[0]).max() <= 1.0


def test_hsv_jitter_changes_colour_not_shape():
    img, _, _ = scene(COLOURS[0], (10, 20, 50, 70))
    out = hsv_jitter(img, np.random.default_rng(3), hgain=50, sgain=100, vgain=100)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_multiscale_sizes_are_multiples_of_32_and_keep_aspect():
    sizes = {random_input_size((320, 512), s, seed=0, multiscale_range=3) for s in range(50)}
    assert len(sizes) > 1
    for h, w in sizes:
        assert h % 32 == 0 and w % 32 == 0 and 224 <= h <= 416
        assert abs(w / h - 1.6) < 0.15
    assert random_input_size((320, 512), 5, seed=0, multiscale_range=0) == (320, 512)
