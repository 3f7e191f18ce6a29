"""benchmarks/gpu_check: on a machine without a GPU it stops at once with a clear message and exit
code 2, from the shell script and from its Python part; the result table's columns."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def _gpu_check_module():  # noqa: ANN202
    # benchmarks/ is a folder of scripts, not a package: load the file itself.
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(env_path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": env_path, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), "--models", "yolox_nano"], capture_output=True, text=True,
                          env=env, timeout=60)


def test_script_without_nvidia_smi_fails_at_once() -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi; the failing-driver case below still runs")
    done = _run(os.environ["PATH"])
    assert done.returncode == 2
    assert done.stderr.startswith("gpu_check: no NVIDIA GPU found (nvidia-smi is missing or fails)")
    assert done.stdout == ""


def test_script_with_a_failing_driver_fails_at_once(tmp_path: Path) -> None:
    # nvidia-smi that exits non-zero is what a machine with the tools but no working GPU/driver shows.
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    fake.chmod(0o755)
    done = _run(f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert done.returncode == 2 and "gpu_check: no NVIDIA GPU found" in done.stderr


def test_python_part_without_cuda_returns_2(capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert _gpu_check_module().main(["--models", "yolox_nano", "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpu_check: no CUDA GPU: torch.cuda.is_available() is False")
    assert not Path("unused").exists()


def test_table_has_one_row_per_engine_with_pre_post_overhead() -> None:
    row = {"model": "yolox_l", "precision": "fp16", "input": "640x640", "boxes": 120, "missing": 0,
           "worst_iou": 0.981, "worst_score_diff": 0.0061, "ok": True, "end_to_end_ms": 9.5, "network_ms": 7.25,
           "torch_fp32_end_to_end_ms": 31.0}
    lines = _gpu_check_module().format_table([row, {**row, "precision": "fp32", "ok": False}]).splitlines()
    assert len(lines) == 4 and "pre+post ms" in lines[0]
    assert lines[2].split(" | ") == ["yolox_l", "fp16", "640x640", "120", "0", "0.9810", "0.0061", "9.50", "7.25",
                                     "2.25", "31.00", "yes"]
    assert lines[3].endswith("NO")
