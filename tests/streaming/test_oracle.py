"""The oracle detector through `python -m streaming.run`: ground truth in, 100 sAP out at zero
latency, stale boxes at a fixed latency, and a clear error for measured latency."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.argoverse import ArgoverseHD
from data.cli import run_command
from streaming.log import read_log
from streaming.oracle import check_oracle_latency, oracle_detections
from streaming.run import main as run_main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from data.synthetic import generate_world

    root = tmp_path_factory.mktemp("oracle_run_world")
    generate_world(root, sequences=1, frames=20, size=(480, 300), seed=5, val_fraction=1.0, progress=False)
    return root


def _run(world, out, *extra) -> int:
    return run_command(run_main, ["--model", "oracle", "--data", str(world), "--out", str(out),
                                  "--set", "plot=false", *extra])


def test_oracle_detections_are_the_ground_truth(world):
    ds = ArgoverseHD(world / "annotations" / "val.json", world)
    ids = [f.image_id for f in ds.sequences[0].frames]
    dets = oracle_detections(ds, ids)
    gt = ds.ground_truth(ids[7])
    assert len(dets) == 20 and len(gt) > 0
    np.testing.assert_array_equal(dets[7].boxes, gt.boxes)
    np.testing.assert_array_equal(dets[7].labels, gt.labels)
    assert (dets[7].scores == 1).all()


def test_run_with_the_oracle(world, tmp_path):
    assert _run(world, tmp_path / "zero", "--latency", "fixed:0", "--forecast", "kalman") == 0
    report = json.loads((tmp_path / "zero" / "report.json").read_text())
    assert report["streaming"]["AP"] == pytest.approx(100.0) and report["offline"]["AP"] == pytest.approx(100.0)
    assert _run(world, tmp_path / "late", "--latency", "fixed:0.1") == 0
    late = json.loads((tmp_path / "late" / "report.json").read_text())
    assert late["streaming"]["AP"] < 100.0
    log = read_log(next((tmp_path / "late" / "logs").glob("*.jsonl")))
    assert [o.frame_index for o in log.outputs[:3]] == [0, 3, 6] and log.meta["model"] == "oracle"


def test_measured_latency_is_refused(world, tmp_path, capsys):
    with pytest.raises(ValueError, match="fixed:SECONDS"):
        check_oracle_latency("measured")
    assert _run(world, tmp_path / "m", "--latency", "measured") == 2
    assert "no runtime to measure" in capsys.readouterr().err
