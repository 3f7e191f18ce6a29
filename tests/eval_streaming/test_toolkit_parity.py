"""streaming.run agrees with an independent re-implementation of the sAP toolkit's pairing.

The reference below is written from the toolkit's rule, not from this project's pairing code:
ground-truth frame j of a sequence is scored at t = (j - eta) / fps with the latest output whose
raw float completion time is <= t (a pointer walked forward over the outputs in order); with a
forecaster, every output up to that one has been fed (at its input frame's time) and the boxes
are extrapolated to the frame's own time j / fps. It reads the stream logs as plain JSON and
compares with the submission file `streaming.run --submission` writes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.boxes import xyxy_to_xywh
from data.cli import run_command
from data.detections import Detections
from streaming.run import main as run_main
from trackers import ForecastConfig, build_forecaster

FPS = 30.0


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from data.synthetic import generate_world

    root = tmp_path_factory.mktemp("parity_world")
    generate_world(root, sequences=2, frames=30, size=(480, 300), seed=11, val_fraction=1.0, progress=False)
    return root


def _toolkit_pairing(log_path, *, eta: float, forecast: str, category_ids: list[int]) -> list[dict]:
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    header, outputs = lines[0], lines[1:]
    timestamps = [o["t_done"] for o in outputs]
    forecaster = None
    if forecast != "none":
        forecaster = build_forecaster(ForecastConfig(method=forecast), image_size=(480, 300))
        forecaster.reset()
    records, tidx_p1, fed = [], 0, 0
    for ii, image_id in enumerate(header["image_ids"]):
        t = (ii - eta) / header["fps"]
        while tidx_p1 < len(timestamps) and timestamps[tidx_p1] <= t:
            tidx_p1 += 1
        if tidx_p1 == 0:
            continue  # no output yet: nothing submitted for this frame
        if forecaster is None:
            dets = Detections.from_dict(outputs[tidx_p1 - 1]["detections"])
        else:
            while fed < tidx_p1:
                forecaster.update(Detections.from_dict(outputs[fed]["detections"]),
                                  outputs[fed]["frame_index"] / header["fps"])
                fed += 1
            dets = forecaster.forecast(ii / header["fps"])
        for box, score, label in zip(xyxy_to_xywh(dets.boxes.astype(np.float64)), dets.scores, dets.labels):
            records.append({"image_id": image_id, "bbox": [float(v) for v in box], "score": float(score),
                            "category_id": category_ids[int(label)]})
    return records


def _key(r: dict) -> tuple:
    return (r["image_id"], r["category_id"], round(r["score"], 5), *(round(v, 3) for v in r["bbox"]))


@pytest.mark.parametrize("forecast", ["none", "kalman"])
@pytest.mark.parametrize("eta", [-1.0, 0.0, 1.0])
@pytest.mark.parametrize("latency,timing", [("fixed:0.05", "toolkit"), ("fixed:0.047", "exact")])
def test_streaming_run_pairs_as_the_toolkit(world, tmp_path, eta, forecast, latency, timing):
    out, sub = tmp_path / "run", tmp_path / "submission.json"
    # The oracle gives many boxes that move, so a wrong pairing or forecast time changes them.
    code = run_command(run_main, ["--model", "oracle", "--data", str(world), "--latency", latency,
                                  "--timing", timing, "--eta", str(eta), "--forecast", forecast,
                                  "--out", str(out), "--submission", str(sub), "--set", "plot=false"])
    assert code == 0
    submitted = json.loads(sub.read_text())
    cats = [c["id"] for c in json.loads((world / "annotations" / "val.json").read_text())["categories"]]
    expected = [r for log in sorted((out / "logs").glob("*.jsonl"))
                for r in _toolkit_pairing(log, eta=eta, forecast=forecast, category_ids=cats)]
    assert len(expected) > 100
    assert sorted(map(_key, submitted)) == sorted(map(_key, expected))
