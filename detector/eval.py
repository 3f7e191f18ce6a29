"""`python -m detector.eval`: offline COCO AP of a checkpoint or ONNX model (see detector.evaluate)."""
from __future__ import annotations

from detector.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
