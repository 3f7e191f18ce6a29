"""eval_streaming.planner: its pick, run with the streaming.run command it writes (in process, on
the same tiny world, real detector and COCO eval), scores the predicted sAP; target-hardware
profiles, perf factors and budgets change the prediction as they should."""
from __future__ import annotations

import json

import pytest

from data.cli import run_command
from eval_streaming.ablate import main as ablate_main
from eval_streaming.planner import main as planner_main, plan
from streaming.run import main as streaming_run_main
from tests.support.ablation_world import ablation_args, make_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablation")
    world = make_world(root / "world")
    argv = ablation_args(world, root / "cache", root / "out", "--set", "input_sizes=[[128, 224], [192, 320]]",
                         "--set", "latencies=[profile]", "--set", "forecasts=[none, kalman]",
                         "--set", "policies=[greedy, shrinking-tail]", "--set", "seed=3")
    assert run_command(ablate_main, argv) == 0
    return root / "out"


def test_planned_command_reproduces_the_predicted_sap(ablation, tmp_path, capsys):
    out = tmp_path / "plan"
    assert run_command(planner_main, ["--ablation", str(ablation), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "plan.json").read_text())
    assert len(result["rows"]) == 2 * 2 * 2 and result["command_line"] in printed
    best = result["best"]
    assert best["sAP"] == max(r["sAP"] for r in result["rows"]) and best["sAP"] > 0
    command = result["command"]
    assert command[:3] == ["python", "-m", "streaming.run"]
    assert command[command.index("--seed") + 1] == "3" and command[command.index("--policy") + 1] == best["policy"]
    assert command[command.index("--latency") + 1] == f"profile:{best['profile']}"
    assert run_command(streaming_run_main, command[3:]) == 0
    report = json.loads((out / "reproduce" / "report.json").read_text())
    assert abs(report["streaming"]["AP"] - result["predicted_sAP"]) < 0.5  # the bar
    assert report["streaming"]["AP"] == result["predicted_sAP"]  # same detections, profile and seed: exact


def test_target_profile_perf_factor_and_budget(ablation, tmp_path):
    own = plan(ablation, out=tmp_path / "own")
    target = tmp_path / "target_profile.json"
    target.write_text(json.dumps({"runtimes": [0.2, 0.25, 0.3]}))  # much slower hardware
    slow = plan(ablation, profiles=[str(target)], out=tmp_path / "slow")
    assert all(abs(r["runtime_ms"] - 250.0) < 1e-9 for r in slow["rows"])
    assert slow["predicted_sAP"] < own["predicted_sAP"]  # staler outputs score lower
    fast = plan(ablation, profiles=[str(target)], perf_factor=5.0, out=tmp_path / "fast")
    assert all(abs(r["runtime_ms"] - 50.0) < 1e-9 for r in fast["rows"])
    assert fast["predicted_sAP"] > slow["predicted_sAP"]
    assert fast["command"][fast["command"].index("--perf-factor") + 1] == "5.0"
    # one pass's own profile replaced: only that pass's rows change
    mixed = plan(ablation, profiles=[f"1={target}"], out=tmp_path / "mixed")
    assert [r["sAP"] for r in mixed["rows"] if r["pass"] == 0] == [r["sAP"] for r in own["rows"] if r["pass"] == 0]
    assert all(abs(r["runtime_ms"] - 250.0) < 1e-9 for r in mixed["rows"] if r["pass"] == 1)
    budget = min(r["runtime_ms"] for r in own["rows"])
    within = plan(ablation, budget_ms=budget, out=tmp_path / "budget")
    assert within["best"]["runtime_ms"] <= budget
    with pytest.raises(ValueError, match="within 0.001 ms"):
        plan(ablation, budget_ms=0.001, out=tmp_path / "none")


def test_planner_bad_input(ablation, tmp_path, capsys):
    assert run_command(planner_main, ["--ablation", str(tmp_path)]) == 2
    assert "not an ablation folder" in capsys.readouterr().err
    assert run_command(planner_main, ["--ablation", str(ablation), "--profile", str(tmp_path / "x.json"),
                                      "--out", str(tmp_path / "p")]) == 2
    assert "x.json: runtime profile not found" in capsys.readouterr().err
    assert run_command(planner_main, ["--ablation", str(ablation), "--profile", "7=p.json",
                                      "--out", str(tmp_path / "p")]) == 2
    assert "PASS must be a pass index 0..1" in capsys.readouterr().err
