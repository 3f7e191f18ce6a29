"""pycocotools on the same result rows as data.coco_eval: the reference faster-coco-eval is
pinned to (tests/data/test_coco_eval.py) and timed against (benchmarks/streaming_eval.py).

pycocotools is used nowhere else; its objects are built from the same dicts and rows, the way
data.coco_eval builds faster-coco-eval's, so that the two runs see identical input.
"""
from __future__ import annotations

import contextlib
import io
from typing import Sequence

import numpy as np


def pycocotools_ground_truth(dataset: dict):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):  # its index build prints progress
        coco.createIndex()
    return coco


def pycocotools_cocoeval(gt, image_ids: Sequence[int], rows: np.ndarray, category_ids: Sequence[int]):
    """pycocotools' COCOeval after evaluate/accumulate/summarize (12 `stats`, `eval["precision"]`)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ids = sorted({int(i) for i in image_ids})
    res = COCO()
    res.dataset = {
        "images": [gt.imgs[i] for i in ids],
        "categories": list(gt.dataset.get("categories", [])),
        "annotations": [{"id": k, "image_id": int(r[0]), "bbox": [r[1], r[2], r[3], r[4]], "score": r[5],
                         "category_id": int(r[6]), "area": r[3] * r[4], "iscrowd": 0}
                        for k, r in enumerate(rows.tolist(), start=1)],
    }
    evaluator = COCOeval(gt, res, iouType="bbox")
    evaluator.params.imgIds = ids
    evaluator.params.catIds = sorted({int(c) for c in category_ids})
    with contextlib.redirect_stdout(io.StringIO()):
        res.createIndex()
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator
