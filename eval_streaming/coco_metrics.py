"""COCO bbox AP with pycocotools over per-frame predictions (streaming or offline alike).

One COCOeval runs over all evaluated frames of all sequences at once; the results object is
built directly from arrays (no JSON round trip, no loadRes loops) and pycocotools' prints are
silenced.
"""
from __future__ import annotations

import contextlib
import io
import math
import multiprocessing
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from data.boxes import xyxy_to_xywh
from data.detections import Detections

SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


@dataclass
class CocoMetrics:
    """AP numbers in percent (COCO summary convention); NaN where undefined (no ground truth)."""

    AP: float
    AP50: float
    AP75: float
    APs: float
    APm: float
    APl: float
    per_class: dict[str, float] = field(default_factory=dict)
    num_images: int = 0
    num_detections: int = 0

    def to_dict(self) -> dict:
        def clean(v: float) -> float | None:
            return None if v is None or math.isnan(v) else round(float(v), 4)

        out = {k: clean(getattr(self, k)) for k in SUMMARY_KEYS}
        out["per_class"] = {k: clean(v) for k, v in self.per_class.items()}
        out["num_images"] = self.num_images
        out["num_detections"] = self.num_detections
        return out


def results_array(
    image_ids: Sequence[int], predictions: Sequence[Detections], category_ids: Sequence[int]
) -> np.ndarray:
    """(N, 7) float64 rows [image_id, left, top, width, height, score, category_id]."""
    cats = np.asarray(category_ids, dtype=np.float64)
    blocks = []
    for image_id, dets in zip(image_ids, predictions):
        if not len(dets):
            continue
        block = np.empty((len(dets), 7), dtype=np.float64)
        block[:, 0] = image_id
        block[:, 1:5] = xyxy_to_xywh(dets.boxes.astype(np.float64))
        block[:, 5] = dets.scores
        block[:, 6] = cats[dets.labels]
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, 7), dtype=np.float64)


def results_records(rows: np.ndarray) -> list[dict]:
    """COCO results list (leaderboard / submission format) from `results_array` rows."""
    return [
        {"image_id": int(r[0]), "bbox": [float(r[1]), float(r[2]), float(r[3]), float(r[4])],
         "score": float(r[5]), "category_id": int(r[6])}
        for r in rows.tolist()
    ]


def _results_coco(gt, image_ids: Sequence[int], rows: np.ndarray):
    from pycocotools.coco import COCO

    anns = [
        {"id": i + 1, "image_id": int(r[0]), "bbox": [r[1], r[2], r[3], r[4]], "score": r[5],
         "category_id": int(r[6]), "area": r[3] * r[4], "iscrowd": 0}
        for i, r in enumerate(rows.tolist())
    ]
    res = COCO()
    res.dataset = {
        "images": [gt.imgs[i] for i in image_ids],
        "categories": list(gt.dataset.get("categories", [])),
        "annotations": anns,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        res.createIndex()
    return res


def coco_ap(
    gt,
    image_ids: Sequence[int],
    rows: np.ndarray,
    *,
    category_ids: Sequence[int],
    class_names: Sequence[str],
) -> CocoMetrics:
    """COCOeval (bbox, IoU .5:.95, maxDets 100) of result rows against `gt` on `image_ids`."""
    from pycocotools.cocoeval import COCOeval

    missing = [i for i in image_ids if i not in gt.imgs]
    if missing:
        raise ValueError(f"{len(missing)} evaluated image ids are not in the annotations (e.g. {missing[0]})")
    res = _results_coco(gt, image_ids, rows)
    evaluator = COCOeval(gt, res, iouType="bbox")
    evaluator.params.imgIds = sorted(set(int(i) for i in image_ids))
    evaluator.params.catIds = sorted(set(int(c) for c in category_ids))
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = [float(s) * 100 if s >= 0 else math.nan for s in evaluator.stats[:6]]
    # precision: [IoU thresholds, recall points, classes (sorted ids), area ranges, maxDets];
    # area "all", 100 detections
    precision = evaluator.eval["precision"][:, :, :, 0, -1]
    cat_order = evaluator.params.catIds
    per_class = {}
    for name, cat in zip(class_names, category_ids):
        p = precision[:, :, cat_order.index(int(cat))]
        p = p[p > -1]
        per_class[name] = float(p.mean()) * 100 if p.size else math.nan
    return CocoMetrics(*stats, per_class=per_class, num_images=len(evaluator.params.imgIds),
                       num_detections=len(rows))


def _child(conn, gt, image_ids, rows, category_ids, class_names) -> None:
    try:
        conn.send(("ok", coco_ap(gt, image_ids, rows, category_ids=category_ids, class_names=class_names)))
    except BaseException as e:  # hand any failure to the parent instead of dying silently
        conn.send(("error", f"{e.__class__.__name__}: {e}"))
    finally:
        conn.close()


def coco_ap_many(
    gt,
    jobs: dict[str, tuple[Sequence[int], np.ndarray]],
    *,
    category_ids: Sequence[int],
    class_names: Sequence[str],
    workers: int = 2,
) -> dict[str, CocoMetrics]:
    """Several independent COCOevals (streaming and offline, sweep points) on one ground truth.

    With workers > 1 they run in up to `workers` forked processes at a time (COCOeval is
    single-threaded Python; only the small metrics travel back). Same numbers either way.
    """
    names = list(jobs)
    if workers <= 1 or len(names) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return {n: coco_ap(gt, *jobs[n], category_ids=category_ids, class_names=class_names) for n in names}
    ctx = multiprocessing.get_context("fork")
    pending, running, out = list(names), [], {}
    while pending or running:
        while pending and len(running) < workers:
            name = pending.pop(0)
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, gt, *jobs[name], category_ids, class_names), daemon=True)
            proc.start()
            send.close()
            running.append((name, proc, recv))
        name, proc, recv = running.pop(0)
        try:
            status, payload = recv.recv()
        except EOFError:
            status, payload = "error", "worker exited without a result"
        proc.join()
        if status != "ok":
            for _, other, _ in running:
                other.terminate()
            raise RuntimeError(f"COCOeval for {name!r} failed: {payload}")
        out[name] = payload
    return {n: out[n] for n in names}
