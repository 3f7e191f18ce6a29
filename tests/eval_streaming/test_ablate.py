"""eval_streaming.ablate on the local executor: a real grid (real detector passes in worker
processes, real COCO eval), its cache (a rerun runs nothing; a lost entry is recomputed alone),
retried tasks and config errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data.cli import run_command
from data.config import ConfigError, load_config
from eval_streaming.ablate import main as ablate_main
from eval_streaming.ablate_config import AblationConfig
from eval_streaming.ablate_exec import LocalExecutor, TaskFailed, make_executor
from tests.support.ablation_world import ablation_args, die_once, make_world, raise_once, untrained_nano

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "ablation.yaml"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def nano(tmp_path_factory):
    return untrained_nano(tmp_path_factory.mktemp("models") / "nano.pth")


def _grid(world, nano, cache, out):
    return ablation_args(world, cache, out, "--set", f"models=['', '{nano}']",
                         "--set", "latencies=[measured, 'fixed:0.05']", "--set", "forecasts=[none, kalman]")


def test_grid_then_cache_runs_nothing_twice(world, nano, tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "out"
    assert run_command(ablate_main, _grid(world, nano, cache, out)) == 0
    first = json.loads((out / "ablation.json").read_text())
    s1 = first["stats"]
    # 2 models x 1 size x 1 backend = 2 passes, 2 sequences each (one shard per sequence)
    assert s1["shards_run"] == 4 and s1["shards_cached"] == 0 and s1["frames_run"] == 32
    assert s1["scores_run"] == 2 * (1 + 2 * 2) and s1["scores_cached"] == 0
    rows = first["rows"]
    assert len(rows) == 2 * 2 * 2
    assert {r["model"] for r in rows} == {"demo", str(nano)} and {r["input_size"] for r in rows} == {"192x320"}
    demo = [r for r in rows if r["model"] == "demo"]
    assert all(r["offline_AP"] > 0 and r["sAP"] is not None for r in demo)
    # latency costs accuracy: the demo model's sAP at 50 ms is below its offline AP
    assert all(r["sAP"] < r["offline_AP"] for r in demo if r["latency"] == "fixed:0.05")
    assert all(r["mean_runtime_ms"] > 0 and r["dropped"] >= 0 for r in rows)
    for name in ("ablation.md", "config.yaml", "ablation_runtime.png", "ablation_frontier.png", "ablation_budget.png"):
        assert (out / name).is_file(), name
    assert "Best configuration per latency budget" in (out / "ablation.md").read_text()
    profile = json.loads(open(first["passes"][0]["profile"]).read())
    assert len(profile["runtimes"]) == 16 and all(r > 0 for r in profile["runtimes"])

    logs = sorted((cache / "passes").rglob("*.jsonl"))
    mtimes = {p: p.stat().st_mtime_ns for p in logs}
    assert run_command(ablate_main, _grid(world, nano, cache, tmp_path / "again")) == 0
    second = json.loads((tmp_path / "again" / "ablation.json").read_text())
    s2 = second["stats"]
    assert s2["shards_run"] == 0 and s2["frames_run"] == 0 and s2["scores_run"] == 0
    assert s2["shards_cached"] == 4 and s2["scores_cached"] == s1["scores_run"]
    assert s2["frames_run"] + s2["scores_run"] < 0.1 * (s1["frames_run"] + s1["scores_run"])
    assert {p: p.stat().st_mtime_ns for p in logs} == mtimes  # nothing rewritten
    assert second["rows"] == rows and (tmp_path / "again" / "ablation.md").read_text() == (out / "ablation.md").read_text()

    # a lost shard is recomputed alone; scores of the passes it changed are recomputed, the rest reused
    shutil.rmtree(logs[0].parent.parent)
    assert run_command(ablate_main, _grid(world, nano, cache, tmp_path / "resumed")) == 0
    s3 = json.loads((tmp_path / "resumed" / "ablation.json").read_text())["stats"]
    assert s3["shards_run"] == 1 and s3["frames_run"] == 8 and s3["shards_cached"] == 3
    assert s3["scores_run"] == 1 + 2 * 2 and s3["scores_cached"] == 1 + 2 * 2


def test_local_executor_retries_a_dead_worker_and_a_raising_task(tmp_path):
    with LocalExecutor(workers=1, max_retries=1) as ex:
        assert ex.map(die_once, [(str(tmp_path / "died"), 4)]) == [8]
        assert ex.map(raise_once, [(str(tmp_path / "raised"), 4), (str(tmp_path / "raised"), 5)]) == [5, 6]
    assert (tmp_path / "died").is_file() and ex.retried >= 2
    # out of retries: the failure is reported with its cause
    with LocalExecutor(workers=1, max_retries=0) as ex, pytest.raises(TaskFailed, match="first attempt fails"):
        ex.map(raise_once, [(str(tmp_path / "again"), 1)])


@pytest.mark.parametrize("override, message", [
    ("backends=[tensorflow]", "backends: 'tensorflow'"),
    ("backends=['torch:int8']", "for the openvino backend only"),
    ("latencies=['fixed:abc']", "latencies:"),
    ("policies=[lazy]", "policies: 'lazy'"),
    ("forecasts=[psychic]", "forecasts: 'psychic'"),
    ("input_sizes=[[100, 320]]", "input_sizes:"),
    ("models=[]", "models: needs at least one entry"),
    ("forecasts=[none, none]", "duplicate"),
    ("perf_factors=[0]", "perf_factors: must be positive"),
    ("shard_sequences=0", "shard_sequences"),
    ("executor=spark", "executor: 'spark'"),
    ("address=auto", "is for executor ray"),
    ("workers=two", "workers: expected an integer"),
    ("colour=red", "unknown config key(s): colour"),
])
def test_config_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_config(AblationConfig, CONFIG, [override])


def test_bad_input_is_exit_2_naming_the_problem(world, tmp_path, capsys):
    argv = ablation_args(world, tmp_path / "cache", tmp_path / "out", "--set", "models=[missing.pth]")
    assert run_command(ablate_main, argv) == 2
    assert "missing.pth: model file not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert run_command(ablate_main, ["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: config file not found" in capsys.readouterr().err


def test_ray_missing_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the package
    with pytest.raises(ImportError, match=r"pip install '\.\[scale\]'"):
        make_executor("ray")
