"""YAML configs: numbers in `--set` and files parse as numbers, types are checked."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from data.config import ConfigError, load_config


@dataclass
class Small:
    lr: float = 0.01
    steps: int = 10
    name: str = "run"


@pytest.mark.parametrize("raw,value", [("1e-12", 1e-12), ("2e0", 2.0), ("-3E+2", -300.0), ("1.5e-3", 1.5e-3),
                                       ("0.25", 0.25), ("4", 4.0)])
def test_exponent_numbers_are_numbers(raw, value):
    assert load_config(Small, None, [f"lr={raw}"]).lr == value


def test_exponent_numbers_in_files(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 5e-4\nsteps: 3\n")
    cfg = load_config(Small, path)
    assert cfg.lr == 5e-4 and cfg.steps == 3


def test_an_exponent_is_not_an_integer_and_strings_stay_strings():
    with pytest.raises(ConfigError, match="steps: expected an integer"):
        load_config(Small, None, ["steps=1e3"])
    assert load_config(Small, None, ["name=1e3x"]).name == "1e3x"
