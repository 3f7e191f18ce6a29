"""eval_streaming.ablate on Ray (a local Ray with num_cpus=2 started by the test): the table is
the local executor's, bit for bit; Ray retries a task that raises and one whose worker dies."""
from __future__ import annotations

import json
import shutil

import pytest

from data.cli import run_command
from eval_streaming.ablate import main as ablate_main
from eval_streaming.ablate_exec import RayExecutor
from tests.support.ablation_world import ablation_args, die_once, make_world, raise_once

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[scale]')")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_table_is_the_local_table(ray_session, tmp_path_factory, tmp_path):
    world = make_world(tmp_path_factory.mktemp("world"))
    grid = ("--set", "latencies=[measured, 'fixed:0.05', profile]", "--set", "forecasts=[none, kalman]")
    ray_cache, ray_out = tmp_path / "ray_cache", tmp_path / "ray_out"
    # passes and scores all run as Ray tasks
    assert run_command(ablate_main, ablation_args(world, ray_cache, ray_out, "--executor", "ray", *grid)) == 0
    on_ray = json.loads((ray_out / "ablation.json").read_text())
    assert on_ray["stats"]["executor"] == "ray" and on_ray["stats"]["shards_run"] == 2
    assert on_ray["stats"]["scores_run"] == 1 + 3 * 2
    # the local pool scores the same passes (copied: the detector's runtimes are measurements,
    # so a second pass would differ in its measured rows) into its own score cache
    local_cache, local_out = tmp_path / "local_cache", tmp_path / "local_out"
    shutil.copytree(ray_cache / "passes", local_cache / "passes")
    assert run_command(ablate_main, ablation_args(world, local_cache, local_out, *grid)) == 0
    local = json.loads((local_out / "ablation.json").read_text())
    assert local["stats"]["shards_run"] == 0 and local["stats"]["scores_run"] == on_ray["stats"]["scores_run"]
    assert json.dumps(local["rows"]) == json.dumps(on_ray["rows"])
    assert (local_out / "ablation.md").read_bytes() == (ray_out / "ablation.md").read_bytes()
    assert all(r["sAP"] is not None for r in local["rows"])


def test_ray_retries_failed_tasks(ray_session, tmp_path):
    with RayExecutor(max_retries=1) as ex:
        assert ex.map(raise_once, [(str(tmp_path / "raised"), 1)]) == [2]
        assert not ex.started  # the session the caller opened is used, and left open
        assert ex.map(die_once, [(str(tmp_path / "died"), 4)]) == [8]
    assert (tmp_path / "raised").is_file() and (tmp_path / "died").is_file()
    assert ray.is_initialized()
