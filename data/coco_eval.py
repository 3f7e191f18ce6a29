"""The one COCO bbox evaluation: results rows, the COCOeval run, its metrics and their tables.

Every AP in the project comes from here: `python -m detector.eval`, the trainer's validation,
streaming and offline AP, sweeps. The engine is faster-coco-eval (C++ matching and
accumulation, the pycocotools algorithm; tests/data/test_coco_eval.py pins its numbers to
pycocotools'). Conventions:

- results are rows `(N, 7)` float64 `[image_id, left, top, width, height, score, category_id]`
  (`results_array`), or the COCO results list / leaderboard format (`results_records`);
- AP numbers are percent; an AP that COCO cannot define (no ground truth of that class or size
  among the evaluated images) is None: `null` in JSON, "-" in tables, never NaN.
"""
from __future__ import annotations

import contextlib
import gc
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from data.box_iou import BoxSet, grouped_box_ious, gt_box_set
from data.boxes import xyxy_to_xywh
from data.detections import Detections

SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
_quiet = logging.getLogger(__name__).debug  # faster-coco-eval reports progress through this


@dataclass(frozen=True)
class CocoMetrics:
    """COCOeval bbox summary (IoU .5:.95, maxDets 100) in percent; None where undefined."""

    AP: float | None
    AP50: float | None
    AP75: float | None
    APs: float | None
    APm: float | None
    APl: float | None
    per_class: dict[str, float | None] = field(default_factory=dict)
    num_images: int = 0
    num_detections: int = 0

    def summary(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in SUMMARY_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (4 decimals of a percent; None stays None, so the file is valid JSON)."""
        def clean(v: float | None) -> float | None:
            return None if v is None else round(float(v), 4)

        return {**{k: clean(v) for k, v in self.summary().items()},
                "per_class": {k: clean(v) for k, v in self.per_class.items()},
                "num_images": self.num_images, "num_detections": self.num_detections}


def results_array(image_ids: Sequence[int], predictions: Sequence[Detections],
                  category_ids: Sequence[int]) -> np.ndarray:
    """(N, 7) float64 result rows of each image's detections; labels index `category_ids`."""
    cats = np.asarray(category_ids, dtype=np.float64)
    blocks = []
    for image_id, dets in zip(image_ids, predictions, strict=True):
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
    """The COCO results list `[{image_id, bbox: [l, t, w, h], score, category_id}]` of `rows`."""
    return [{"image_id": int(r[0]), "bbox": [r[1], r[2], r[3], r[4]], "score": r[5], "category_id": int(r[6])}
            for r in rows.tolist()]


def ground_truth(dataset: dict):
    """A faster-coco-eval COCO over an in-memory annotation dict (no file, no JSON round trip)."""
    from faster_coco_eval import COCO

    coco = COCO(print_function=_quiet)
    coco.dataset = dataset
    coco.createIndex()
    return coco


def detection_records(rows: np.ndarray) -> list[dict]:
    """What loadRes would build from result `rows`: an id from 1, the box area for the size
    ranges, iscrowd 0."""
    image_ids, cats = rows[:, 0].astype(np.int64).tolist(), rows[:, 6].astype(np.int64).tolist()
    boxes, scores, areas = rows[:, 1:5].tolist(), rows[:, 5].tolist(), (rows[:, 3] * rows[:, 4]).tolist()
    return [{"id": k, "image_id": i, "bbox": b, "score": s, "category_id": c, "area": a, "iscrowd": 0}
            for k, (i, b, s, c, a) in enumerate(zip(image_ids, boxes, scores, cats, areas), start=1)]


def results_coco(gt, image_ids: Sequence[int], rows: np.ndarray):
    """The detections as a faster-coco-eval COCO (the object COCOeval's own `_prepare` reads)."""
    from faster_coco_eval import COCO

    res = COCO(print_function=_quiet)
    res.dataset = {"images": [gt.imgs[i] for i in image_ids], "annotations": detection_records(rows),
                   "categories": list(gt.dataset.get("categories", []))}
    res.createIndex()
    return res


class Scorer:
    """COCO bbox evaluation of any number of result sets against one ground truth on fixed
    images and categories (streaming and offline AP, every point of a sweep). The ground-truth
    side of COCOeval's preparation (the evaluated annotations, their boxes and the engine's
    index of them) is built once here instead of once per result set."""

    def __init__(self, gt, image_ids: Sequence[int], *, category_ids: Sequence[int],
                 class_names: Sequence[str] | None = None) -> None:
        from faster_coco_eval.core import faster_eval_api

        self.gt = gt
        self.image_ids = sorted({int(i) for i in image_ids})
        self.category_ids = list(category_ids)
        self.class_names = list(class_names) if class_names is not None else [str(c) for c in category_ids]
        missing = [i for i in self.image_ids if i not in gt.imgs]
        if missing:
            raise ValueError(f"{len(missing)} evaluated image ids are not in the annotations (e.g. {missing[0]})")
        self._cat_ids = sorted({int(c) for c in category_ids})
        images, cats = set(self.image_ids), set(self._cat_ids)
        annotations = [a for a in gt.dataset.get("annotations", [])
                       if a["image_id"] in images and a["category_id"] in cats]
        for a in annotations:  # COCOeval's rule: iscrowd decides what is ignored
            a["ignore"] = int(a.get("iscrowd", 0))
        self._gt_boxes, self._crowd = gt_box_set(annotations, images, cats)
        self._gt_index = faster_eval_api._C.Dataset()
        for a in annotations:
            self._gt_index.append_ref(a["image_id"], a["category_id"], a)
        self._gt_pairs = {(a["image_id"], a["category_id"]) for a in annotations}

    def run(self, rows: np.ndarray):
        """The evaluated, accumulated and summarised COCOeval_faster (its `stats` are COCO's 12)."""
        unknown = sorted(set(np.unique(rows[:, 0]).astype(int).tolist()) - set(self.image_ids))
        if unknown:
            raise ValueError(f"{len(unknown)} detections' image ids are not among the evaluated images "
                             f"(e.g. {unknown[0]})")
        keep = np.isin(rows[:, 6].astype(np.int64), self._cat_ids)
        with _collector_paused():
            evaluator = _evaluator_class()(self.gt, None, iouType="bbox", print_function=_quiet)
            evaluator.params.imgIds = self.image_ids
            evaluator.params.catIds = self._cat_ids
            evaluator.box_ious = grouped_box_ious(
                self._gt_boxes, self._crowd,
                BoxSet(rows[keep, 0].astype(np.int64), rows[keep, 6].astype(np.int64), rows[keep, 1:5]),
                rows[keep, 5], max(evaluator.params.maxDets))
            evaluator.prepared = (self._gt_index, self._gt_pairs, detection_records(rows[keep]))
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return evaluator

    def evaluate(self, rows: np.ndarray) -> CocoMetrics:
        """COCO bbox metrics of result `rows`; `class_names[k]` names `category_ids[k]`."""
        return self._metrics(self.run(rows), rows)

    def evaluate_many(self, results: Mapping[str, np.ndarray]) -> dict[str, CocoMetrics]:
        """`evaluate` of each named result set, one after the other under one collector pause.
        Serial on purpose: the engine's C++ pass holds the GIL and already spreads its
        accumulation over the cores, so two runs in threads took longer than two in a row at
        Argoverse-HD val size (5.7 s against 4.6-5.0 s, benchmarks/streaming_eval.py)."""
        with _collector_paused():
            return {name: self.evaluate(rows) for name, rows in results.items()}

    def _metrics(self, evaluator, rows: np.ndarray) -> CocoMetrics:
        stats = [float(s) * 100 if s >= 0 else None for s in evaluator.stats[:6]]
        per_class = per_class_ap(evaluator.eval["precision"], evaluator.params.catIds, self.category_ids)
        return CocoMetrics(*stats, per_class=dict(zip(self.class_names, per_class, strict=True)),
                           num_images=len(evaluator.params.imgIds), num_detections=len(rows))


def run_cocoeval(gt, image_ids: Sequence[int], rows: np.ndarray, category_ids: Sequence[int]):
    """One result set's evaluated COCOeval_faster (see Scorer)."""
    return Scorer(gt, image_ids, category_ids=category_ids).run(rows)


def _evaluator_class():
    """COCOeval_faster, bbox only, fed what it would compute itself: the per-pair IoU matrices
    from one vectorised pass (data.box_iou: the same numbers) and, in `_prepare`, the Scorer's
    ground-truth index and the detection records (no COCO object, no loadRes)."""
    from faster_coco_eval import COCOeval_faster

    class PreparedEval(COCOeval_faster):
        box_ious: dict = {}
        prepared: tuple = ()

        def computeIoU(self, imgId: int, catId: int):  # noqa: N802, N803 - COCOeval's names
            return self.box_ious.get((imgId, catId), [])

        def _prepare(self) -> None:
            self.gt_dataset, gt_pairs, detections = self.prepared
            self.dt_dataset.clean()
            dt_pairs = set()
            for d in detections:
                self.dt_dataset.append_ref(d["image_id"], d["category_id"], d)
                dt_pairs.add((d["image_id"], d["category_id"]))
            self._nonempty_iou_pairs = gt_pairs & dt_pairs

    return PreparedEval


@contextlib.contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector while a run allocates its ~10^5 small dicts: each full
    collection would walk every ground-truth dict too (a quarter of the run's time at
    Argoverse-HD val size). Nothing here makes reference cycles, and the previous state returns
    (already paused: left to the outer pause, so concurrent runs under one pause nest safely)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def per_class_ap(precision: np.ndarray, cat_order: Sequence[int], category_ids: Sequence[int]) -> list[float | None]:
    """Percent AP per category from COCOeval's precision array [IoU, recall, class, area, maxDets]
    (area "all", the largest maxDets); None for a class with no ground truth."""
    out: list[float | None] = []
    order = [int(c) for c in cat_order]
    for cat in category_ids:
        p = precision[:, :, order.index(int(cat)), 0, -1]
        p = p[p > -1]
        out.append(float(p.mean()) * 100 if p.size else None)
    return out


def evaluate(gt, image_ids: Sequence[int], rows: np.ndarray, *, category_ids: Sequence[int],
             class_names: Sequence[str]) -> CocoMetrics:
    """COCO bbox metrics of result `rows` against `gt` (from `ground_truth` or a dataset's
    `.coco`) on `image_ids`; `class_names[k]` names `category_ids[k]`. Several result sets on the
    same ground truth: one Scorer."""
    return Scorer(gt, image_ids, category_ids=category_ids, class_names=class_names).evaluate(rows)


def format_value(v: Any, digits: int = 1) -> str:
    """A table cell: None (undefined) is "-", floats get `digits` decimals."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, digits: int = 1) -> str:
    """A markdown table; cells through `format_value`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(results: Mapping[str, CocoMetrics | None], *, per_class: bool = True) -> str:
    """Summary AP table (one row per named result) and, below it, per-class AP (one column each)."""
    named = {name: m for name, m in results.items() if m is not None}
    if not named:
        return ""
    text = format_table(["metric", *SUMMARY_KEYS], [[name, *m.summary().values()] for name, m in named.items()])
    if per_class:
        classes = list(next(iter(named.values())).per_class)
        text += "\n\n" + format_table(["class", *named], [[c, *(m.per_class.get(c) for m in named.values())]
                                                           for c in classes])
    return text
