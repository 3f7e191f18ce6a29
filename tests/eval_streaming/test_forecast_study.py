"""The oracle forecasting study on a small synthetic world: zero latency is exact for forecasters
that return their input, forecasting never does worse than stale boxes, and the table prints."""
from __future__ import annotations

import pytest

from data.argoverse import ArgoverseHD
from data.synthetic import generate_world
from eval_streaming.forecast_study import forecast_table, format_table, oracle_logs, simulate_latency
from trackers import FORECAST_METHODS

LATENCIES = (0, 1, 3, 6)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle_world")
    generate_world(root, sequences=2, frames=45, size=(480, 300), seed=77, val_fraction=1.0, progress=False)
    return ArgoverseHD(root / "annotations" / "val.json", root, check_images=False)


@pytest.fixture(scope="module")
def rows(dataset):
    return forecast_table(dataset, latencies_frames=LATENCIES)


def test_oracle_streams_ground_truth_at_the_latency(dataset):
    offline = oracle_logs(dataset, 30.0)
    assert [len(log.outputs) for log in offline] == [45, 45]
    gt = dataset.ground_truth(offline[0].image_ids[5])
    assert (offline[0].outputs[5].detections.boxes == gt.boxes).all()
    late = simulate_latency(offline, 3)[0]
    assert [o.frame_index for o in late.outputs[:3]] == [0, 3, 6]
    assert late.outputs[0].t_done == pytest.approx(0.1)


def test_every_forecaster_at_every_latency(rows):
    ap = {(r["latency_frames"], r["forecast"]): r for r in rows}
    assert len(rows) == len(LATENCIES) * len(FORECAST_METHODS)
    for method in ("none", "kalman", "bytetrack"):  # these return their input at zero horizon
        assert ap[(0, method)]["AP"] == pytest.approx(100.0, abs=0.1)
    # The toolkit's reference reports its filtered posterior, which is not the input.
    assert ap[(0, "sap-kalman")]["AP"] < 100.0
    for k in LATENCIES[1:]:
        none, kalman = ap[(k, "none")], ap[(k, "kalman")]
        assert none["AP"] < ap[(0, "none")]["AP"] and none["recovered"] == 0.0
        assert kalman["AP"] >= none["AP"] and 0 < kalman["recovered"] <= 1
    assert ap[(0, "kalman")]["recovered"] is None  # no loss to recover


def test_table_lists_latencies_and_forecasters(rows):
    table = format_table(rows)
    assert "sap-kalman recovered" in table and len(table.splitlines()) == 2 + len(LATENCIES)


def test_needs_the_none_reference(dataset):
    from trackers import ForecastConfig

    with pytest.raises(ValueError, match="'none'"):
        forecast_table(dataset, latencies_frames=(1,), forecasters={"kalman": ForecastConfig(method="kalman")})


def test_references_bound_the_forecasters(dataset):
    rows = forecast_table(dataset, latencies_frames=(0, 3), references=True)
    ap = {(r["latency_frames"], r["forecast"]): r for r in rows}
    assert ap[(0, "ideal (ids)")]["AP"] == pytest.approx(100.0, abs=0.1)
    assert ap[(0, "linear (ids)")]["AP"] == pytest.approx(100.0, abs=0.1)
    ideal, linear, none = ap[(3, "ideal (ids)")], ap[(3, "linear (ids)")], ap[(3, "none")]
    assert none["AP"] < linear["AP"] < ideal["AP"]  # perfect association helps, perfect motion more
    for method in FORECAST_METHODS:
        assert ap[(3, method)]["AP"] <= ideal["AP"]  # nothing beats knowing where each object is
    assert 0 < ideal["recovered"] <= 1
