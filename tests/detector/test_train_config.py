"""Training config and command errors: one line naming the key or the file, exit code 2, no
traceback and no run that silently does nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from data.cli import run_command
from data.config import ConfigError
from detector.train import main as train_main
from detector.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def _train(argv: list[str], capsys) -> tuple[int, str]:
    code = run_command(train_main, argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err and (code == 0 or len(err.strip().splitlines()) == 1), err
    return code, err


@pytest.mark.parametrize("setting, message", [
    ("batch_size=0", "batch_size: must be >= 1, got 0"),
    ("epochs=-1", "epochs: must be >= 1, got -1"),
    ("eval_interval=0", "eval_interval: must be >= 1"),
    ("warmup_epochs=-2", "warmup_epochs: must be >= 0"),
    ("lr_per_image=0", "lr_per_image: must be positive"),
    ("max_iters_per_epoch=0", "max_iters_per_epoch: must be >= 1 (or null)"),
])
def test_bad_values_are_one_line_errors(setting, message, capsys):
    code, err = _train(["--set", setting], capsys)
    assert code == 2 and message in err


def test_config_rejects_values_in_the_library_too():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)
    TrainConfig(epochs=1, no_aug_epochs=0, warmup_epochs=0)  # the smallest real run is fine


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("train_*.yaml")))
def test_shipped_configs_without_their_dataset_name_the_missing_file(config, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no datasets/ here
    code, err = _train(["--config", str(config)], capsys)
    assert code == 2 and "not found (config key train_" in err


def test_resume_without_a_config_beside_it(tmp_path, capsys):
    ckpt = tmp_path / "x.pth"
    ckpt.write_bytes(b"not read: the missing config is found first")
    code, err = _train(["--resume", str(ckpt)], capsys)
    assert code == 2 and "no config beside the checkpoint" in err and str(tmp_path / "config.yaml") in err
    code, err = _train(["--resume", str(tmp_path / "missing.pth")], capsys)
    assert code == 2 and "checkpoint to resume not found" in err
