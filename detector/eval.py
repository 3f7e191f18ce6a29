"""`python -m detector.eval`: offline COCO AP of a checkpoint or ONNX model (see detector.evaluate)."""
from __future__ import annotations

from data.cli import run_command
from detector.evaluate import main

if __name__ == "__main__":
    raise SystemExit(run_command(main))
