"""The oracle detector: every frame's ground truth as its detections (score 1).

`python -m streaming.run --model oracle --latency fixed:S` streams it like any detector, so that
sAP measures only what latency and forecasting do: at zero latency it is 100 by construction,
and whatever a forecaster loses or recovers after that is its own doing. Crowd (ignore) regions
are not reported, as the dataset reader leaves them out of the ground truth.

It has no runtime of its own, so `measured` latency is refused; fixed and profile latencies
work as for a real detector. Detections come straight from the annotations, not from images,
so no frame is read.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from data.detections import Detections

ORACLE_MODEL = "oracle"


def is_oracle(model: str) -> bool:
    return model == ORACLE_MODEL


def check_oracle_latency(latency: str, *, realtime: bool = False) -> None:
    """The oracle costs no time: a wall-clock latency would measure nothing."""
    if realtime or latency.strip().lower() == "measured":
        raise ValueError("--model oracle has no runtime to measure: use --latency fixed:SECONDS or profile:FILE "
                         "(and no --realtime)")


def oracle_detections(dataset: Any, image_ids: Sequence[int]) -> list[Detections]:
    """Per frame of one sequence (in `image_ids` order): its ground-truth boxes, score 1."""
    out = []
    for image_id in image_ids:
        gt = dataset.ground_truth(image_id)
        out.append(Detections(gt.boxes, np.ones(len(gt), np.float32), gt.labels))
    return out


def oracle_pass(dataset: Any, image_ids: Sequence[int]) -> tuple[list[Detections], list[float], list[str]]:
    """`streaming.detect.offline_pass`'s result for the oracle: detections, zero runtimes, no bad frames."""
    return oracle_detections(dataset, image_ids), [0.0] * len(image_ids), []
