"""`python -m detector.export`: a YOLOX model to ONNX, OpenVINO IR or a TensorRT engine.

    python -m detector.export --model yolox_s --format onnx --output yolox_s.onnx
    python -m detector.export --model runs/train/best.pth --format openvino --output m.xml --input-size 416 416
    python -m detector.export --model m.pth --format openvino --precision int8 --calibration clip.mp4 --output m.xml
    python -m detector.export --model yolox_s --format onnx --fp16 --output yolox_s_fp16.onnx  # mixed precision
    python -m detector.export --model yolox_s --format engine --output yolox_s.engine   # GPU + TensorRT 10/11

The graph has the official YOLOX layout: input `images` [B, 3, H, W] (BGR 0-255), output `output`
[B, N, 5 + C] with sigmoid obj/cls, raw box regression by default (like the official exporter) or
decoded boxes with --decode. The metadata (model name, classes, input size, decoded, legacy) is
written into the file (ONNX metadata_props, OpenVINO rt_info, a JSON sidecar for engines), so that
load_detector needs nothing else. OpenVINO IRs also record their precision (f32 / bf16 / int8, the
default detector.quantize.DEFAULT_OPENVINO_PRECISION; INT8 is calibrated on --calibration frames).

A StreamYOLO checkpoint exports to ONNX, OpenVINO (f32 by default, or bf16; not INT8) or a TensorRT
engine (fp32) with its feature buffer as extra graph inputs / outputs (detector.export_stream),
batch 1.

The ONNX exporter is torch.export-based (dynamo, the default since torch 2.9, opset >= 18);
--opset below 18 uses the TorchScript exporter, which older runtimes may need.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import torch

from data.cli import run_command
from detector.backends.base import DEFAULT_INPUT_SIZE, ModelMetadata
from detector.blocks import fold_space_to_depth
from detector.grid import check_input_hw

DYNAMO_MIN_OPSET = 18
EXPORT_FORMATS = ("onnx", "openvino", "engine")  # --format; "engine" is TensorRT
# A StreamYOLO's OpenVINO default: INT8 would need calibration through the feature buffer (not
# done), and f32 keeps the exported graph equal to the torch online path.
STREAM_OPENVINO_PRECISION = "fp32"


def export_onnx(model: torch.nn.Module, output: str | Path, *, input_size: tuple[int, int],
                metadata: ModelMetadata, decode: bool = False, dynamic_batch: bool = False,
                opset: int | None = None, fuse: bool = True) -> Path:
    """Write an ONNX file of `model` (not modified) and check it; returns the path. A StreamYOLO
    gets its feature buffer as extra inputs / outputs (detector.export_stream)."""
    import onnx

    from detector.streamyolo import StreamYOLO

    if isinstance(model, StreamYOLO):
        if dynamic_batch:
            raise ValueError("a StreamYOLO graph has batch 1 (its feature buffer belongs to one stream); "
                             "drop --dynamic-batch")
        from detector.export_stream import export_stream_onnx

        return export_stream_onnx(model, output, input_size=input_size, metadata=metadata, decode=decode,
                                  opset=DYNAMO_MIN_OPSET if opset is None else int(opset), fuse=fuse)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().float().eval()
    if fuse and hasattr(model, "fuse"):
        model.fuse()
        fold_space_to_depth(model)  # the official layout's export (fuse=False) keeps its slices
    model.head.decode_in_inference = bool(decode)
    h, w = check_input_hw(input_size)
    dummy = torch.zeros(1, 3, h, w)
    opset = DYNAMO_MIN_OPSET if opset is None else int(opset)
    use_dynamo = opset >= DYNAMO_MIN_OPSET
    kwargs: dict = {"input_names": ["images"], "output_names": ["output"], "opset_version": opset}
    if use_dynamo:
        kwargs["dynamo"] = True
        kwargs["verbose"] = False
        if dynamic_batch:
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=1, max=1024)},)
    else:
        kwargs["dynamo"] = False
        if dynamic_batch:
            kwargs["dynamic_axes"] = {"images": {0: "batch"}, "output": {0: "batch"}}
    # The dynamo exporter writes weights to an external .data file; export in a scratch folder and
    # save one self-contained file (all YOLOX models are far below protobuf's 2 GB limit).
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), _quiet_exporter_logs():
        warnings.simplefilter("ignore")  # deprecation chatter from the exporters, not about this model
        scratch = Path(tmp) / "model.onnx"
        torch.onnx.export(model, (dummy,), str(scratch), **kwargs)
        proto = onnx.load(str(scratch))
    _check_names(proto, output)
    return save_onnx_with_metadata(proto, output, copy.copy(metadata), decoded=decode, input_hw=(h, w))


def save_onnx_with_metadata(proto, output: Path, meta: ModelMetadata, *, decoded: bool,
                            input_hw: tuple[int, int]) -> Path:
    """Write an exported graph with the project's metadata (decoded flag, input size when the
    metadata has none), checked, as one file; YOLOX and StreamYOLO exports end here."""
    import onnx

    meta.decoded = bool(decoded)
    if meta.input_size is None:
        meta.input_size = tuple(input_hw)
    onnx.helper.set_model_props(proto, meta.to_strings())
    proto.producer_name = "yolox-streaming"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(output))
    return output


class _quiet_exporter_logs:
    """The dynamo exporter logs one line per missing torchvision op; not relevant to YOLOX."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("torch.onnx")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)


def _check_names(proto, path: Path) -> None:  # noqa: ANN001
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    if inputs != ["images"] or outputs != ["output"]:
        raise RuntimeError(f"{path}: exporter produced inputs {inputs} / outputs {outputs}, expected images / output")


def export_openvino(onnx_path: str | Path, xml_path: str | Path, *, fp16: bool = False, precision: str = "fp32",
                    calibration_frames: list | None = None) -> Path:
    """Convert our ONNX file to OpenVINO IR, carrying the metadata (and the precision) into rt_info.

    precision (detector.quantize): fp32 / bf16 (the same IR, compiled as recorded) or int8 (NNCF
    post-training quantization on `calibration_frames`, BGR frames letterboxed as at inference).
    """
    import onnx

    from detector.backends.openvino_backend import import_openvino, write_rt_metadata
    from detector.quantize import normalise_precision, quantize_int8

    ov = import_openvino()
    precision = normalise_precision(precision)
    xml_path = Path(xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    model = ov.convert_model(str(onnx_path))
    if precision == "int8":
        meta = ModelMetadata.from_strings(props, source=str(onnx_path))
        if meta.buffer_inputs is not None:
            raise ValueError(f"{onnx_path}: INT8 calibration of a StreamYOLO graph (feature-buffer inputs) is not "
                             "supported; export it at --precision f32 or bf16")
        shape = model.input(0).get_partial_shape()
        input_hw = meta.input_size or (shape[2].get_length(), shape[3].get_length())
        model = quantize_int8(model, list(calibration_frames or []), input_hw=tuple(input_hw),
                              legacy=bool(meta.legacy))
    props["precision"] = precision
    write_rt_metadata(model, props)
    ov.save_model(model, str(xml_path), compress_to_fp16=fp16)
    return xml_path


def load_for_export(model_arg: str, *, num_classes: int = 80, random_init: bool = False
                    ) -> tuple[torch.nn.Module, ModelMetadata]:
    """A zoo name or .pth file -> (model, metadata known so far)."""
    from detector.api import default_class_names, resolve_model_path
    from detector.checkpoint import load_model
    from detector.model import build_model
    from detector.zoo import MODEL_ZOO

    if random_init:
        if model_arg not in MODEL_ZOO:
            raise ValueError(f"--random-init needs a zoo name ({', '.join(MODEL_ZOO)}), got {model_arg!r}")
        spec = MODEL_ZOO[model_arg]
        return build_model(model_arg, num_classes=num_classes), ModelMetadata(
            model_name=spec.name, classes=default_class_names(num_classes), input_size=spec.input_size,
            legacy=spec.legacy)
    path, zoo_name = resolve_model_path(model_arg)
    model, meta = load_model(path, zoo_name=zoo_name)
    if meta.classes is None:
        meta.classes = default_class_names(model.num_classes)
    return model, meta


def main(argv: Sequence[str] | None = None) -> None:
    """The command; bad input raises ValueError / OSError / ImportError (exit 2 under run_command)."""
    ap = argparse.ArgumentParser(description="Export a YOLOX model to ONNX / OpenVINO / TensorRT.")
    ap.add_argument("--model", required=True, help="zoo name (yolox_s, ...) or a .pth checkpoint")
    ap.add_argument("--format", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0])
    ap.add_argument("--output", required=True, type=Path, help=".onnx / .xml / .engine file to write")
    ap.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None)
    ap.add_argument("--decode", action="store_true", help="decode boxes in the graph (default: raw, as official)")
    ap.add_argument("--dynamic-batch", action="store_true", help="symbolic batch dimension")
    ap.add_argument("--opset", type=int, default=None, help=f"ONNX opset (default {DYNAMO_MIN_OPSET}; <18 uses "
                                                             "the TorchScript exporter)")
    ap.add_argument("--classes", default=None, help="JSON file with the class names (default: from checkpoint)")
    ap.add_argument("--legacy", action="store_true", default=None, help="weights expect normalised RGB input")
    ap.add_argument("--fp16", action="store_true", help="ONNX: mixed-precision graph (detector.export_fp16); "
                                                         "OpenVINO: store FP16 weights")
    ap.add_argument("--precision", choices=["fp32", "f32", "fp16", "bf16", "int8"], default=None,
                    help="engine: fp32 / fp16 (default) / int8 (needs a Q/DQ graph; detector.backends.tensorrt_build); "
                         "openvino: f32 / bf16 / int8 (NNCF on --calibration frames), default "
                         "detector.quantize.DEFAULT_OPENVINO_PRECISION")
    ap.add_argument("--calibration", default=None,
                    help="openvino int8: calibration frames, a folder of images, a video or 'synthetic' (default)")
    ap.add_argument("--calibration-frames", type=int, default=None, help="how many calibration frames to use")
    ap.add_argument("--max-batch", type=int, default=8, help="TensorRT profile maximum with --dynamic-batch")
    ap.add_argument("--random-init", action="store_true", help="untrained zoo model (for latency tests only)")
    ap.add_argument("--num-classes", type=int, default=80, help="with --random-init")
    args = ap.parse_args(argv)
    asked_precision = args.precision  # None: the format's default (another one for a StreamYOLO)

    calibration = None
    if args.format == "engine":  # fail before the (slow) ONNX export when TensorRT is missing
        from detector.backends.tensorrt_build import import_tensorrt

        import_tensorrt()
        args.precision = "fp32" if args.precision == "f32" else (args.precision or "fp16")
        if args.precision == "bf16":
            raise ValueError("--precision bf16 is for OpenVINO; TensorRT engines take fp32, fp16 or int8")
    elif args.format == "openvino":
        from detector.backends.openvino_backend import import_openvino
        from detector.quantize import DEFAULT_OPENVINO_PRECISION, SYNTHETIC, import_nncf, normalise_precision

        import_openvino()
        if args.precision == "fp16":
            raise ValueError("--precision fp16 is for TensorRT; OpenVINO takes f32, bf16 or int8 (--fp16 stores "
                             "FP16 weights)")
        args.precision = normalise_precision(args.precision or DEFAULT_OPENVINO_PRECISION)
        if args.precision == "int8":
            if asked_precision is not None:  # else checked once the model is known (a StreamYOLO's is f32)
                import_nncf()
            calibration = args.calibration or SYNTHETIC  # frames are loaded once the input size is known
        elif args.calibration:
            raise ValueError(f"--calibration is for --precision int8, not {args.precision}")
    elif args.precision is not None:
        raise ValueError("--precision is for --format openvino or engine; ONNX files take --fp16")
    if (args.format == "onnx" and args.fp16) or (args.format == "engine" and args.precision == "fp16"):
        from detector.export_fp16 import import_float16

        import_float16()
    model, meta = load_for_export(args.model, num_classes=args.num_classes, random_init=args.random_init)
    from detector.streamyolo import StreamYOLO

    stream = isinstance(model, StreamYOLO)
    if stream:  # the buffer graph: ONNX, OpenVINO f32 / bf16, TensorRT fp32 (detector.export_stream)
        if args.fp16 or args.dynamic_batch:
            raise ValueError(f"{args.model}: a StreamYOLO exports without --fp16 or --dynamic-batch "
                             "(its feature buffer is a batch-1 float32 graph input)")
        if args.format == "engine":
            if asked_precision not in (None, "f32", "fp32"):
                raise ValueError(f"{args.model}: a StreamYOLO engine is built in fp32 (its float32 feature "
                                 f"buffer goes in and out of the graph), not {asked_precision}")
            args.precision = "fp32"
        if args.format == "openvino" and asked_precision is None:
            args.precision, calibration = STREAM_OPENVINO_PRECISION, None
        elif args.format == "openvino" and args.precision == "int8":
            raise ValueError(f"{args.model}: INT8 calibration of a StreamYOLO graph is not supported; "
                             "use --precision f32 or bf16")
    if args.format == "openvino" and args.precision == "int8" and asked_precision is None:
        from detector.quantize import import_nncf

        import_nncf()
    if args.classes:
        names = json.loads(Path(args.classes).read_text())
        if len(names) != model.num_classes:
            raise ValueError(f"{args.classes}: {len(names)} class names but the model has {model.num_classes} classes")
        meta.classes = tuple(names)
    if args.legacy is not None:
        meta.legacy = True
    input_hw = check_input_hw(args.input_size or meta.input_size or DEFAULT_INPUT_SIZE, what="--input-size")
    meta.input_size = input_hw
    if calibration is not None:
        from detector.quantize import DEFAULT_CALIBRATION_FRAMES, load_calibration_frames

        calibration = load_calibration_frames(calibration, input_hw=input_hw,
                                              count=args.calibration_frames or DEFAULT_CALIBRATION_FRAMES)
    out = args.output
    if args.format == "onnx" and not args.fp16:
        export_onnx(model, out, input_size=input_hw, metadata=meta, decode=args.decode,
                    dynamic_batch=args.dynamic_batch, opset=args.opset)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = export_onnx(model, Path(tmp) / "model.onnx", input_size=input_hw, metadata=meta,
                                    decode=args.decode, dynamic_batch=args.dynamic_batch, opset=args.opset)
            if args.format == "openvino":
                export_openvino(onnx_path, out, fp16=args.fp16, precision=args.precision,
                                calibration_frames=calibration)
            elif args.format == "onnx":
                from detector.export_fp16 import convert_onnx_to_fp16

                convert_onnx_to_fp16(onnx_path, out)
            else:
                from detector.backends.tensorrt_build import build_engine
                from detector.export_fp16 import convert_onnx_to_fp16

                meta.decoded = args.decode
                if stream:  # the sidecar names the buffer tensors, as the ONNX metadata does
                    from detector.export_stream import stream_metadata

                    meta = stream_metadata(meta, model)
                if args.precision == "fp16":  # strongly typed TensorRT 11 takes the precision from the graph
                    onnx_path = convert_onnx_to_fp16(onnx_path, Path(tmp) / "model_fp16.onnx")
                build_engine(onnx_path, out, precision=args.precision, max_batch=1 if stream else args.max_batch,
                             metadata=meta)
    shown = f"{args.format} {args.precision}" if args.precision else args.format
    print(f"wrote {out} ({shown}, {meta.model_name}, {input_hw[0]}x{input_hw[1]}, "
          f"{'decoded' if args.decode else 'raw'} boxes, {model.num_classes} classes)")


if __name__ == "__main__":
    sys.exit(run_command(main))
