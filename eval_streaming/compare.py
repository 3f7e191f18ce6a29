"""Is one run's streaming AP really above another's? A paired bootstrap over sequences.

    python -m eval_streaming.compare --annotations FILE --a RUN_A --b RUN_B \\
        [--a-forecast none] [--b-forecast kalman] [--draws 500] [--seed 0] [--out DIR]

RUN_A and RUN_B are streaming.run folders (or their logs/ folders) recorded on the same
sequences, e.g. a StreamYOLO run and a YOLOX run at the same fixed latency; each is paired under
its own forecaster, as eval_streaming.evaluate pairs it. Frames of one sequence are not
independent (the same objects, the same motion), so the resampling unit is the sequence: each
draw picks as many sequences as there are, with replacement, scores A and B on the same draw
(COCO AP over all its frames) and keeps the difference. Reported: both full-set APs, the mean
difference over draws, its 2.5 / 97.5 percentiles and the share of draws where A scores higher.
Writes compare.json to --out when given.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data.cli import run_command
from data.coco import build_coco
from data.coco_eval import Scorer, results_array
from data.detections import Detections
from eval_streaming.evaluate import check_compatible, load_annotations, pair_logs, run_folder
from streaming.log import StreamLog, read_logs
from streaming.run_folder import check_run_complete
from trackers import FORECAST_METHODS

SequenceResults = dict[str, tuple[list[int], list[Detections]]]  # name -> (image ids, paired outputs)


@dataclass(frozen=True)
class Comparison:
    """AP in percent; diff = A - B."""

    ap_a: float
    ap_b: float
    sequences: int
    draws: int
    seed: int
    mean_diff: float
    low: float  # 2.5th percentile of the draws' differences
    high: float  # 97.5th percentile
    a_better: float  # share of draws with A above B

    def format(self, name_a: str = "A", name_b: str = "B") -> str:
        return (f"{name_a}: {self.ap_a:.2f} sAP, {name_b}: {self.ap_b:.2f} sAP, difference "
                f"{self.ap_a - self.ap_b:+.2f}\npaired bootstrap over {self.sequences} sequences, "
                f"{self.draws} draws (seed {self.seed}): mean difference {self.mean_diff:+.2f}, 95% interval "
                f"[{self.low:+.2f}, {self.high:+.2f}], {name_a} higher in {100 * self.a_better:.0f}% of draws")


def sequence_results(logs: Sequence[StreamLog], annotations: Any, forecast: str) -> SequenceResults:
    """Each sequence's paired outputs, one per frame, under `forecast`."""
    pairings = pair_logs(logs, forecast=forecast, annotations=annotations)
    return {log.sequence: (list(log.image_ids), list(p.predictions)) for log, p in zip(logs, pairings)}


class ResampledScorer:
    """Scores result sets on a draw of sequences; a sequence drawn twice gets fresh image ids
    (k-th pick: id + k * stride), so COCOeval counts its frames twice."""

    def __init__(self, dataset: dict, category_ids: Sequence[int]) -> None:
        self.dataset = dataset
        self.category_ids = list(category_ids)
        self.images = {im["id"]: im for im in dataset["images"]}
        self.stride = max(self.images) + 1
        self.annotations: dict[int, list[dict]] = {}
        for a in dataset.get("annotations", []):
            self.annotations.setdefault(a["image_id"], []).append(a)

    def score(self, draw: Sequence[str], *results: SequenceResults) -> list[float]:
        images, annotations, ids = [], [], []
        rows: list[list[np.ndarray]] = [[] for _ in results]
        for k, name in enumerate(draw):
            old_ids = results[0][name][0]
            new_ids = [i + k * self.stride for i in old_ids]
            for old, new in zip(old_ids, new_ids):
                images.append({**self.images[old], "id": new})
                annotations += [{**a, "id": len(annotations) + j + 1, "image_id": new}
                                for j, a in enumerate(self.annotations.get(old, []))]
            ids += new_ids
            for r, res in zip(rows, results):
                r.append(results_array(new_ids, res[name][1], self.category_ids))
        gt = build_coco({**self.dataset, "images": images, "annotations": annotations})
        scorer = Scorer(gt, ids, category_ids=self.category_ids)
        return [scorer.evaluate(np.concatenate(r)).AP or 0.0 for r in rows]


def paired_bootstrap(a: SequenceResults, b: SequenceResults, dataset: dict, category_ids: Sequence[int], *,
                     draws: int = 500, seed: int = 0, progress: bool = False) -> Comparison:
    """A against B on the full set and on `draws` resamplings of their (shared) sequences."""
    if sorted(a) != sorted(b):
        only = sorted(set(a) ^ set(b))
        raise ValueError(f"the runs cover different sequences (e.g. {only[0]} is in one only)")
    for name in a:
        if a[name][0] != b[name][0]:
            raise ValueError(f"sequence {name}: the runs' frames differ")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    names = sorted(a)
    scorer = ResampledScorer(dataset, category_ids)
    ap_a, ap_b = scorer.score(names, a, b)
    rng = np.random.default_rng(seed)
    picks = [list(rng.choice(names, size=len(names), replace=True)) for _ in range(draws)]
    if progress:
        from tqdm import tqdm

        picks = tqdm(picks, desc="bootstrap", unit="draw")
    diffs = np.array([x - y for x, y in (scorer.score(p, a, b) for p in picks)])
    return Comparison(ap_a=ap_a, ap_b=ap_b, sequences=len(names), draws=draws, seed=seed,
                      mean_diff=float(diffs.mean()), low=float(np.percentile(diffs, 2.5)),
                      high=float(np.percentile(diffs, 97.5)), a_better=float(np.mean(diffs > 0)))


def _logs(run: str) -> list[StreamLog]:
    """A run's stream logs, as eval_streaming.evaluate reads them (an interrupted run is refused)."""
    check_run_complete(run_folder(run))
    return read_logs(run)


def main(argv: list[str] | None = None) -> int:
    """Bad input raises (ValueError / FileNotFoundError); `run_command` turns it into exit 2."""
    ap = argparse.ArgumentParser(prog="python -m eval_streaming.compare", description=__doc__.split("\n")[0])
    ap.add_argument("--annotations", required=True, help="Argoverse-HD style annotation JSON")
    ap.add_argument("--a", required=True, help="run folder A (streaming.run --out)")
    ap.add_argument("--b", required=True, help="run folder B")
    ap.add_argument("--a-forecast", default="none", choices=FORECAST_METHODS)
    ap.add_argument("--b-forecast", default="none", choices=FORECAST_METHODS)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="folder for compare.json")
    args = ap.parse_args(argv)
    annotations = load_annotations(args.annotations)
    results = []
    for run, forecast in ((args.a, args.a_forecast), (args.b, args.b_forecast)):
        logs = _logs(run)
        check_compatible(logs, annotations)
        results.append(sequence_results(logs, annotations, forecast))
    comparison = paired_bootstrap(*results, annotations.coco.dataset, list(annotations.category_ids),
                                  draws=args.draws, seed=args.seed, progress=True)
    print(comparison.format(f"A ({args.a}, {args.a_forecast})", f"B ({args.b}, {args.b_forecast})"))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        record = {"a": args.a, "a_forecast": args.a_forecast, "b": args.b, "b_forecast": args.b_forecast,
                  **asdict(comparison)}
        (out / "compare.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
