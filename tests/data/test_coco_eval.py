"""data.coco_eval: faster-coco-eval gives pycocotools' numbers (12 summary stats, per-class AP)
on a real run; results rows and records; metrics in percent with None where undefined."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from data.coco_eval import (CocoMetrics, evaluate, ground_truth, metrics_table, per_class_ap, results_array,
                            results_records, run_cocoeval, Scorer)
from data.detections import Detections
from tests.support.pycocotools_reference import pycocotools_cocoeval, pycocotools_ground_truth
from tests.support.toy_world import toy_detections, toy_world


@pytest.fixture(scope="module")
def run():
    """Three sequences, noisy detections (jitter, misses, false positives); the world is shrunk
    4x (boxes 10-75 px wide), so that small and medium boxes exist and no large one does."""
    w = toy_world(sequences=3, frames=40, objects=8, seed=11)
    dets = toy_detections(w, seed=12, box_noise=6.0, miss_rate=0.2, false_positives=3)
    for a in w.dataset["annotations"]:
        a["bbox"] = [v / 4 for v in a["bbox"]]
        a["area"] = a["bbox"][2] * a["bbox"][3]
    ids = [i for s in w.sequences for i in s.image_ids]
    rows = results_array(ids, [d for per in dets for d in per], w.ground_truth.category_ids)
    rows[:, 1:5] /= 4
    return w, ids, rows


def test_faster_coco_eval_equals_pycocotools(run):
    w, ids, rows = run
    cats = w.ground_truth.category_ids
    fast = run_cocoeval(ground_truth(copy.deepcopy(w.dataset)), ids, rows, cats)
    ref = pycocotools_cocoeval(pycocotools_ground_truth(copy.deepcopy(w.dataset)), ids, rows, cats)
    assert len(fast.stats[:12]) == len(ref.stats) == 12
    assert 0.1 < ref.stats[0] < 0.9 and ref.stats[3] > 0 and ref.stats[5] == -1  # imperfect; small, no large
    np.testing.assert_allclose(fast.stats[:12], ref.stats, rtol=0, atol=1e-12)
    a = per_class_ap(fast.eval["precision"], fast.params.catIds, cats)
    b = per_class_ap(ref.eval["precision"], ref.params.catIds, cats)
    assert [x is None for x in a] == [x is None for x in b]
    np.testing.assert_allclose([x for x in a if x is not None], [x for x in b if x is not None], rtol=0, atol=1e-12)


def test_one_scorer_scores_many_result_sets_as_separate_runs_and_pycocotools_do(run):
    # The Scorer's ground-truth index is built once and shared by every run: no run may leave a
    # trace in it (order of use must not matter), and each must equal pycocotools on its rows.
    w, ids, rows = run
    cats = w.ground_truth.category_ids
    rng = np.random.default_rng(3)
    variants = [rows, rows[rng.random(len(rows)) < 0.5], rows[:0], rows[np.isin(rows[:, 6], cats[:3])]]
    scorer = Scorer(ground_truth(copy.deepcopy(w.dataset)), ids, category_ids=cats, class_names=w.classes)
    ref_gt = pycocotools_ground_truth(copy.deepcopy(w.dataset))
    for r in variants + variants[::-1]:
        shared = scorer.run(r)
        ref = pycocotools_cocoeval(ref_gt, ids, r, cats)
        np.testing.assert_allclose(shared.stats[:12], ref.stats, rtol=0, atol=1e-12)
    assert scorer.evaluate(variants[1]).AP < scorer.evaluate(rows).AP
    # many runs under one collector pause: every number stays each run's own
    named = {str(k): r for k, r in enumerate(variants * 2)}
    assert scorer.evaluate_many(named) == {k: scorer.evaluate(r) for k, r in named.items()}


def test_metrics_are_percent_with_none_where_undefined(run):
    w, ids, rows = run
    gt, cats = ground_truth(w.dataset), w.ground_truth.category_ids
    m = evaluate(gt, ids, rows, category_ids=cats, class_names=w.classes)
    assert 10 < m.AP < 90 and m.APs > 0 and m.APl is None
    assert m.num_images == len(ids) and m.num_detections == len(rows)
    one_seq = ids[:40]
    sub = evaluate(gt, one_seq, rows[np.isin(rows[:, 0], one_seq)], category_ids=cats, class_names=w.classes)
    absent = [c for c, v in sub.per_class.items() if v is None]
    assert absent  # 8 objects over 8 classes: some class is missing from the first sequence
    text = json.dumps(sub.to_dict(), allow_nan=False)
    assert f'"{absent[0]}": null' in text
    assert f"| {absent[0]} | - |" in metrics_table({"sub": sub})
    empty = evaluate(gt, ids, rows[:0], category_ids=cats, class_names=w.classes)
    assert empty.AP == 0.0 and empty.num_detections == 0  # no detections: 0, not undefined


def test_rows_and_records_round_trip():
    dets = Detections(np.array([[10, 20, 40, 60], [0, 0, 5, 5]], np.float32), [0.9, 0.5], [1, 0])
    rows = results_array([7, 8], [dets, Detections.empty()], [3, 5])
    assert rows.tolist() == [[7, 10, 20, 30, 40, 0.8999999761581421, 5], [7, 0, 0, 5, 5, 0.5, 3]]
    assert results_records(rows)[0] == {"image_id": 7, "bbox": [10.0, 20.0, 30.0, 40.0],
                                        "score": 0.8999999761581421, "category_id": 5}
    with pytest.raises(ValueError):
        results_array([7], [dets, dets], [3, 5])  # one image id per frame


def test_detections_outside_the_evaluated_images_are_an_error(run):
    w, ids, rows = run
    gt = w.ground_truth
    with pytest.raises(ValueError, match="not among the evaluated images"):
        evaluate(gt.coco, ids[:10], rows, category_ids=gt.category_ids, class_names=w.classes)
    with pytest.raises(ValueError, match="not in the annotations"):
        evaluate(gt.coco, [10 ** 9], rows[:0], category_ids=gt.category_ids, class_names=w.classes)


def test_metrics_dataclass_to_dict_rounds_and_keeps_none():
    m = CocoMetrics(12.345678, None, 1.0, None, None, None, {"car": None, "bus": 3.14159265}, 2, 5)
    assert m.to_dict() == {"AP": 12.3457, "AP50": None, "AP75": 1.0, "APs": None, "APm": None, "APl": None,
                           "per_class": {"car": None, "bus": 3.1416}, "num_images": 2, "num_detections": 5}
