"""Per-frame detector latency on this machine: PyTorch, ONNX Runtime and OpenVINO side by side.

    python benchmarks/latency.py                                # nano, tiny, s at 320/416/640
    python benchmarks/latency.py --pairs yolox_nano:416 yolox_s:640 yolox_l:640   # the issue-12 cells
    python benchmarks/latency.py --all                          # adds m, l, x

Each cell is the median over --runs rounds, every column called once per round (interleaved, so a
change in machine load hits all alike), of the network alone on one preprocessed frame (batch 1),
after --warmup untimed calls; ratios against PyTorch eager. With OpenVINO installed, the same
weights are also exported the official YOLOX way (TorchScript exporter, opset 11, unfused) and
compiled by OpenVINO with its defaults ("official OV defaults", all cores, the plugin's precision),
next to this project's OpenVINO backend at each precision (f32 / bf16 / int8, INT8 calibrated on
synthetic frames) and an end-to-end column (letterbox + network + NMS through detector.api.Detector
on a real photo, at the default precision); those columns show the ratio to the official export.
Weights are random: latency does not depend on their values (INT8's AP is benchmarks/precision.py's).
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


def interleaved_medians(fns: dict[str, Callable[[], object]], *, runs: int, warmup: int) -> dict[str, float]:
    """Median ms of each function, called in turn in every round so that a change in machine load
    (this CPU is shared) hits every column alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def real_photo(path: str | None) -> np.ndarray:
    """A natural BGR photo for the end-to-end column (default: scikit-learn's china.jpg, 427x640)."""
    import cv2

    if path is None:
        try:
            import sklearn

            path = str(Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg")
        except ImportError:
            raise SystemExit("--image: no photo given and scikit-learn's sample photo is not installed") from None
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"{path}: not a readable image")
    return image


def bench_one(name: str, size: int, *, runs: int, warmup: int, threads: int, workdir: Path,
              openvino: bool, precisions: tuple[str, ...] = (), ov_threads: int | None = None,
              photo: np.ndarray | None = None, calibration_frames: int = 32) -> dict[str, float]:
    """One model at one size: network-only latency of each runtime and, with OpenVINO, the
    official-style export compiled with OpenVINO's defaults, this project's backend at each
    precision, and end to end (letterbox + network + NMS) on `photo` at the default precision."""
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
    fns: dict[str, Callable[[], object]] = {}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)

    def no_grad(model: torch.nn.Module) -> Callable[[], object]:
        def call() -> object:
            with torch.inference_mode():
                return model(x)
        return call

    fns["torch eager"] = no_grad(eager)
    fns["torch fused"] = no_grad(fused)
    meta = ModelMetadata(model_name=name, input_size=hw)
    onnx_path = export_onnx(eager, workdir / f"{name}_{size}.onnx", input_size=hw, metadata=meta)
    ort_backend = OnnxBackend(onnx_path, input_size=hw, decoded=False, threads=threads)
    fns["onnxruntime"] = lambda: ort_backend.run(batch)
    if openvino:
        import openvino as ov

        from detector.api import Detector
        from detector.backends.openvino_backend import OpenVinoBackend
        from detector.quantize import DEFAULT_OPENVINO_PRECISION, load_calibration_frames

        # The official exporter's way: TorchScript exporter at opset 11, BatchNorm not fused in torch
        official = export_onnx(eager, workdir / f"{name}_{size}_official.onnx", input_size=hw, metadata=meta,
                               opset=11, fuse=False)
        request = ov.Core().compile_model(str(official), "CPU").create_infer_request()
        fns["official OV defaults"] = lambda: request.infer({0: batch})
        calib = load_calibration_frames("synthetic", count=calibration_frames, input_hw=hw) \
            if "int8" in precisions else None
        backends = {}
        for precision in precisions:
            xml = export_openvino(onnx_path, workdir / f"{name}_{size}_{precision}.xml", precision=precision,
                                  calibration_frames=calib)
            backends[precision] = OpenVinoBackend(xml, threads=ov_threads)
            fns[f"ours {precision}"] = (lambda b: lambda: b.run(batch))(backends[precision])
        if photo is not None and DEFAULT_OPENVINO_PRECISION in backends:
            det = Detector(backends[DEFAULT_OPENVINO_PRECISION])  # demo thresholds, as a user runs it
            fns["end to end"] = lambda: det([photo])
    try:
        return interleaved_medians(fns, runs=runs, warmup=warmup)
    finally:
        torch.set_num_threads(previous)


def main(argv: list[str] | None = None) -> None:
    from detector.backends.base import available_cores
    from detector.quantize import DEFAULT_OPENVINO_PRECISION, OPENVINO_PRECISIONS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["yolox_nano", "yolox_tiny", "yolox_s"])
    ap.add_argument("--all", action="store_true", help="also yolox_m, yolox_l, yolox_x")
    ap.add_argument("--sizes", nargs="+", type=int, default=[320, 416, 640])
    ap.add_argument("--pairs", nargs="+", default=None, metavar="MODEL:SIZE",
                    help="explicit model:size cells instead of --models x --sizes (yolox_nano:416 yolox_s:640)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime threads")
    ap.add_argument("--ov-threads", type=int, default=None,
                    help="this project's OpenVINO backend threads (default: all cores, as OpenVINO's defaults use)")
    ap.add_argument("--precisions", nargs="+", default=list(OPENVINO_PRECISIONS), choices=OPENVINO_PRECISIONS)
    ap.add_argument("--image", default=None, help="photo for the end-to-end column (default: sklearn's china.jpg)")
    ap.add_argument("--no-openvino", action="store_true", help="skip OpenVINO even when installed")
    args = ap.parse_args(argv)

    models = args.models + (["yolox_m", "yolox_l", "yolox_x"] if args.all else [])
    cells = ([(p.split(":")[0], int(p.split(":")[1])) for p in args.pairs] if args.pairs
             else [(m, s) for m in models for s in args.sizes])
    try:
        import openvino  # noqa: F401
        use_ov = not args.no_openvino
    except ImportError:
        use_ov = False
    ov_threads = args.ov_threads or available_cores()
    photo = real_photo(args.image) if use_ov else None
    columns = ["torch eager", "torch fused", "onnxruntime"]
    if use_ov:
        columns += ["official OV defaults"] + [f"ours {p}" for p in args.precisions] + ["end to end"]
    print(f"median ms per frame (batch 1), {args.runs} interleaved rounds after {args.warmup} warm-up; torch/ORT "
          f"{args.threads} thread(s), our OpenVINO backend {ov_threads}; x = speed-up vs torch eager; OpenVINO "
          f"columns: (ratio to the official export in OpenVINO with defaults); end to end = letterbox + network + "
          f"NMS on a {photo.shape[1]}x{photo.shape[0]} photo at the default precision "
          f"({DEFAULT_OPENVINO_PRECISION})" if use_ov else "")
    header = f"{'model':<12}{'input':>7}" + "".join(f"{c:>22}" for c in columns)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in cells:
            res = bench_one(name, size, runs=args.runs, warmup=args.warmup, threads=args.threads,
                            workdir=Path(tmp), openvino=use_ov, precisions=tuple(args.precisions),
                            ov_threads=ov_threads, photo=photo)
            base, official = res["torch eager"], res.get("official OV defaults")
            cells_out = []
            for c in columns:
                if c not in res:
                    cells_out.append("-")
                elif c.startswith("ours") or c == "end to end":
                    cells_out.append(f"{res[c]:8.1f} ({res[c] / official:4.2f})")
                else:
                    cells_out.append(f"{res[c]:8.1f} ({base / res[c]:4.2f}x)")
            print(f"{name:<12}{size:>7}" + "".join(f"{c:>22}" for c in cells_out), flush=True)


if __name__ == "__main__":
    main()
