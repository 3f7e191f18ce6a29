"""data.box_iou: the vectorised per-(image, category) IoU matrices are bit-identical to what
faster-coco-eval's own COCOeval.computeIoU gives, including crowd boxes, score ties, more than
maxDets detections in one pair, and categories left out of the evaluation."""
from __future__ import annotations

import numpy as np

from data.box_iou import BoxSet, grouped_box_ious, gt_box_set
from data.coco_eval import ground_truth, results_coco, run_cocoeval


def _world(seed: int = 3):
    """Six images, three categories; boxes on a coarse grid so that many overlap and some touch."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "width": 200, "height": 100} for i in range(1, 7)]
    anns, rows = [], []
    for im in images:
        for k in range(int(rng.integers(0, 7))):
            x, y = rng.integers(0, 15, 2) * 10.0
            w, h = rng.integers(1, 6, 2) * 10.0 + rng.random(2)
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": int(rng.integers(1, 4)),
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(rng.random() < 0.35)})
        if im["id"] == 2:
            anns.append({"id": len(anns) + 1, "image_id": 2, "category_id": 1, "bbox": [40.0, 20.0, 30.5, 20.5],
                         "area": 30.5 * 20.5, "iscrowd": 0})
        many = 130 if im["id"] == 2 else int(rng.integers(0, 20))  # image 2: more than maxDets in one pair
        for k in range(many):
            x, y = rng.integers(0, 15, 2) * 10.0 + rng.normal(0, 2, 2)
            w, h = rng.integers(1, 6, 2) * 10.0
            score = float(rng.choice([0.5, 0.7, 0.9])) if k % 3 else float(rng.random())  # many exact ties
            rows.append([im["id"], x, y, w, h, score, 1 if im["id"] == 2 else int(rng.integers(1, 5))])
    dataset = {"images": images, "annotations": anns,
               "categories": [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 4)]}
    return dataset, np.array(rows, dtype=np.float64)


def _library_ious(dataset: dict, rows: np.ndarray, cat_ids: list[int]) -> dict:
    from faster_coco_eval import COCOeval_faster

    gt = ground_truth(dataset)
    ids = sorted(gt.imgs)
    ev = COCOeval_faster(gt, results_coco(gt, ids, rows), iouType="bbox", print_function=lambda *a: None)
    ev.params.imgIds, ev.params.catIds = ids, cat_ids
    ev.evaluate()
    return {k: np.asarray(v) for k, v in ev.ious.items() if len(v)}, ev


def test_matrices_are_bit_identical_to_faster_coco_eval():
    dataset, rows = _world()
    cat_ids = [1, 2, 3]  # category 4 detections exist but are not evaluated
    expected, _ = _library_ious(dataset, rows, cat_ids)
    gt, crowd = gt_box_set(dataset["annotations"], {im["id"] for im in dataset["images"]}, set(cat_ids))
    assert crowd.any() and (rows[:, 6] == 4).any()
    keep = np.isin(rows[:, 6], cat_ids)
    got = grouped_box_ious(gt, crowd, BoxSet(rows[keep, 0].astype(int), rows[keep, 6].astype(int), rows[keep, 1:5]),
                           rows[keep, 5], 100)
    assert set(got) == set(expected) and len(got) > 5
    crowd_keys = {(a["image_id"], a["category_id"]) for a in dataset["annotations"] if a["iscrowd"]}
    assert any(got[k].any() for k in crowd_keys & set(got))  # crowd boxes overlap detections somewhere
    assert max(m.shape[0] for m in got.values()) == 100  # the 130-detection pair was cut to maxDets
    for key, matrix in expected.items():
        assert got[key].shape == matrix.shape, key
        assert np.array_equal(got[key], matrix), key  # bit for bit, not approximately


def test_evaluation_stats_equal_the_unmodified_library():
    dataset, rows = _world(seed=8)
    cats = [1, 2, 3, 4]
    _, ev = _library_ious(dataset, rows, cats)
    ev.accumulate()
    ev.summarize()
    ours = run_cocoeval(ground_truth(dataset), sorted(im["id"] for im in dataset["images"]), rows, cats)
    assert 0 < ours.stats[0] < 1
    assert np.array_equal(np.asarray(ours.stats), np.asarray(ev.stats))


def test_no_pairs_without_both_sides():
    dataset, rows = _world()
    gt, crowd = gt_box_set(dataset["annotations"], {1}, {1, 2, 3})
    empty = BoxSet(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 4)))
    assert grouped_box_ious(gt, crowd, empty, np.zeros(0), 100) == {}
