"""Exported graphs of a checkpoint, built once and cached on disk: the automatic fast CPU path.

    xml = cached_export(Path("yolox_demo.pth"), fmt="openvino", precision="bf16", input_hw=(320, 512))

On a CPU, torch eager runs a YOLOX several times slower than OpenVINO does, so `load_detector(...,
backend="auto")` (what streaming.run, streaming.live and detector.predict use) exports a `.pth` to
OpenVINO IR (or to ONNX for backend "onnx") the first time and reuses the file afterwards. The key
is the checkpoint's SHA-256 (not its path or mtime: a retrained file at the same path gets a new
entry), the precision, the input size and the exporter's graph version:
`<cache>/<format>/<sha256[:16]>-<precision>-<H>x<W>-g<version>/`.
An entry is written into a scratch folder beside it and renamed into place when complete, so an
interrupted build or two processes building at once never leave a half-written model behind.

A StreamYOLO checkpoint is exported with its feature buffer as graph inputs / outputs
(detector.export_stream); detector.api asks for f32 there (no INT8 calibration through the buffer).

The cache folder is $YOLOX_STREAMING_CACHE, else ~/.cache/yolox-streaming; entries can be deleted
at any time. INT8 entries are calibrated on the synthetic world (rendered once, kept in
<cache>/calibration); for a model of other scenes, export it yourself with --calibration YOUR_FRAMES.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

CACHE_ENV = "YOLOX_STREAMING_CACHE"
# How many synthetic frames calibrate an automatic INT8 export (default DEFAULT_CALIBRATION_FRAMES);
# the test suite sets a handful, as its untrained toy models have no accuracy to keep.
CALIBRATION_FRAMES_ENV = "YOLOX_STREAMING_CALIBRATION_FRAMES"
CACHE_FORMATS = {"openvino": "model.xml", "onnx": "model.onnx"}


def cache_root(explicit: str | Path | None = None) -> Path:
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "yolox-streaming"


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# Part of the key: bumped whenever the exporter writes a different graph for the same weights, so
# an entry from an older build is rebuilt instead of reused (2: the Focus stem folded into a conv).
GRAPH_VERSION = 2


def entry_dir(sha256: str, *, fmt: str, precision: str, input_hw: tuple[int, int],
              cache: str | Path | None = None) -> Path:
    return cache_root(cache) / fmt / (f"{sha256[:16]}-{precision}-{int(input_hw[0])}x{int(input_hw[1])}"
                                      f"-g{GRAPH_VERSION}")


def cached_export(checkpoint: Path, *, fmt: str, precision: str, input_hw: tuple[int, int] | None,
                  zoo_name: str | None = None, cache: str | Path | None = None, calibration: str | None = None,
                  quiet: bool = False) -> Path:
    """The cached ONNX / OpenVINO file of `checkpoint` at this precision and input size, built when
    missing. input_hw None: the checkpoint's own size (its metadata, else its zoo entry's)."""
    from detector.backends.base import DEFAULT_INPUT_SIZE
    from detector.checkpoint import load_model
    from detector.grid import check_input_hw
    from detector.quantize import DEFAULT_CALIBRATION_FRAMES, SYNTHETIC, load_calibration_frames, normalise_precision

    if fmt not in CACHE_FORMATS:
        raise ValueError(f"cached export format must be one of {', '.join(CACHE_FORMATS)}, got {fmt!r}")
    precision = normalise_precision(precision) if fmt == "openvino" else "fp32"
    model, meta = load_model(checkpoint, zoo_name=zoo_name)
    size = check_input_hw(input_hw or meta.input_size or DEFAULT_INPUT_SIZE)
    entry = entry_dir(file_sha256(checkpoint), fmt=fmt, precision=precision, input_hw=size, cache=cache)
    target = entry / CACHE_FORMATS[fmt]
    if target.is_file():
        return target
    from detector.api import default_class_names
    from detector.export import export_onnx, export_openvino

    if meta.classes is None:
        meta.classes = default_class_names(model.num_classes)
    meta.input_size = size
    if not quiet:
        print(f"{checkpoint}: building its {fmt} model ({precision}, {size[0]}x{size[1]}) once, cached in {entry}",
              file=sys.stderr)
    entry.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        # opset 17 = the TorchScript exporter: the same graph in a third of the dynamo exporter's time
        onnx_path = export_onnx(model, scratch / "model.onnx", input_size=size, metadata=meta, opset=17)
        if fmt == "openvino":
            frames = None
            if precision == "int8":
                count = int(os.environ.get(CALIBRATION_FRAMES_ENV) or DEFAULT_CALIBRATION_FRAMES)
                frames = load_calibration_frames(calibration or SYNTHETIC, input_hw=size, count=count,
                                                 cache=cache_root(cache) / "calibration")
            export_openvino(onnx_path, scratch / "model.xml", precision=precision, calibration_frames=frames)
            onnx_path.unlink()
        try:
            os.rename(scratch, entry)
        except OSError:  # another process finished the same entry first: theirs is as good
            if not target.is_file():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target
