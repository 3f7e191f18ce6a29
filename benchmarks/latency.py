"""Per-frame detector latency on this machine: PyTorch eager vs fused vs ONNX Runtime (vs OpenVINO).

    python benchmarks/latency.py                                # nano, tiny, s at 320/416/640
    python benchmarks/latency.py --models yolox_s --sizes 640 --runs 50 --threads 4
    python benchmarks/latency.py --all                          # adds m, l, x

Each cell is the median over --runs timed calls of the network alone on one preprocessed frame
(batch 1; letterbox and NMS are the same for every backend), after --warmup untimed calls. Ratios
are speed-ups against PyTorch eager measured in the same run. Weights are random: latency does not
depend on their values. All runtimes get the same number of threads (--threads).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np


def median_ms(fn: Callable[[], object], *, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench_one(name: str, size: int, *, runs: int, warmup: int, threads: int, workdir: Path,
              openvino: bool) -> dict[str, float]:
    import copy

    import torch

    from detector.backends.base import ModelMetadata
    from detector.backends.onnx_backend import OnnxBackend
    from detector.export import export_onnx, export_openvino
    from detector.model import build_model

    hw = (size, size)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(1, 3, size, size)).astype(np.float32)
    x = torch.from_numpy(batch)
    eager = build_model(name).eval()
    fused = copy.deepcopy(eager).fuse()
    out: dict[str, float] = {}
    with torch.inference_mode():
        out["torch eager"] = median_ms(lambda: eager(x), runs=runs, warmup=warmup)
        out["torch fused"] = median_ms(lambda: fused(x), runs=runs, warmup=warmup)
    onnx_path = workdir / f"{name}_{size}.onnx"
    export_onnx(eager, onnx_path, input_size=hw, metadata=ModelMetadata(model_name=name), opset=17)
    ort_backend = OnnxBackend(onnx_path, input_size=hw, decoded=False, threads=threads)
    out["onnxruntime"] = median_ms(lambda: ort_backend.run(batch), runs=runs, warmup=warmup)
    if openvino:
        from detector.backends.openvino_backend import OpenVinoBackend

        xml = export_openvino(onnx_path, workdir / f"{name}_{size}.xml")
        ov_backend = OpenVinoBackend(xml, input_size=hw, decoded=False, threads=threads)
        out["openvino"] = median_ms(lambda: ov_backend.run(batch), runs=runs, warmup=warmup)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["yolox_nano", "yolox_tiny", "yolox_s"])
    ap.add_argument("--all", action="store_true", help="also yolox_m, yolox_l, yolox_x")
    ap.add_argument("--sizes", nargs="+", type=int, default=[320, 416, 640])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-openvino", action="store_true", help="skip OpenVINO even when installed")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    models = args.models + (["yolox_m", "yolox_l", "yolox_x"] if args.all else [])
    try:
        import openvino  # noqa: F401
        use_ov = not args.no_openvino
    except ImportError:
        use_ov = False
    columns = ["torch eager", "torch fused", "onnxruntime"] + (["openvino"] if use_ov else [])
    print(f"median ms per frame (batch 1), {args.runs} runs after {args.warmup} warm-up, {args.threads} thread(s); "
          f"x = speed-up vs torch eager")
    header = f"{'model':<12}{'input':>7}" + "".join(f"{c:>20}" for c in columns)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            for size in args.sizes:
                res = bench_one(name, size, runs=args.runs, warmup=args.warmup, threads=args.threads,
                                workdir=Path(tmp), openvino=use_ov)
                base = res["torch eager"]
                cells = [f"{res[c]:8.1f} ({base / res[c]:4.2f}x)" for c in columns]
                print(f"{name:<12}{size:>7}" + "".join(f"{c:>20}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
