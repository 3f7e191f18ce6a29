"""TensorRT 10/11 support checked on a CPU: the API names the code uses against TensorRT 11's removals,
the version and precision rules, the engine sidecar, error messages, and the GPU letterbox run on CPU
tensors against detector.preprocess on real frames. Engines themselves need a GPU (gpu_check.sh)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.backends.base import BackendUnavailable, ModelFileError, ModelMetadata
from detector.backends.tensorrt_build import (
    BuildPlan, check_engine_version, engine_sidecar, parse_version, plan_build, read_sidecar, sidecar_path)
from detector.backends.torch_letterbox import letterbox_torch
from detector.preprocess import preprocess_frame
from tests.support.street_clip import street_frames

ROOT = Path(__file__).resolve().parents[2]

# "Migrating from TensorRT 10.x to 11.x": weak typing is gone. Names as reached from the tensorrt
# module (dotted) and attribute names of builder / config / engine objects.
REMOVED_IN_TRT11 = {
    "BuilderFlag.FP16", "BuilderFlag.INT8", "BuilderFlag.BF16", "BuilderFlag.FP8", "BuilderFlag.INT4",
    "BuilderFlag.FP4", "BuilderFlag.OBEY_PRECISION_CONSTRAINTS", "BuilderFlag.PREFER_PRECISION_CONSTRAINTS",
    "IInt8Calibrator", "IInt8EntropyCalibrator", "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator",
    "IInt8LegacyCalibrator", "CalibrationAlgoType",
}
REMOVED_MEMBERS_IN_TRT11 = {"platform_has_fast_fp16", "platform_has_fast_int8", "int8_calibrator",
                            "device_memory_size"}


def _dotted(node: ast.AST) -> str | None:
    """`trt.BuilderFlag.FP16` -> 'BuilderFlag.FP16' (the part after the `trt` name), else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == "trt" and parts:
        return ".".join(reversed(parts))
    return None


def _guards(test: ast.AST) -> set[str]:
    """Names a condition guards: hasattr(x, "NAME") gives NAME; a comparison of a TensorRT major or
    version guards everything ('*')."""
    out = set()
    for node in ast.walk(test):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr" \
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant):
            out.add(str(node.args[1].value))
        if isinstance(node, ast.Compare):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if any("major" in n or "version" in n for n in names):
                out.add("*")
    return out


def unguarded_removed_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every TensorRT-11-removed API use not inside an `if` that guards it."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, guarded: frozenset[str]) -> None:
        name = None
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted in REMOVED_IN_TRT11:
                name = dotted
            elif node.attr in REMOVED_MEMBERS_IN_TRT11:
                name = node.attr
        elif isinstance(node, ast.Constant) and node.value in REMOVED_MEMBERS_IN_TRT11 | \
                {d.split(".")[-1] for d in REMOVED_IN_TRT11}:
            name = str(node.value)  # getattr(obj, "platform_has_fast_fp16", ...) is a use too
        if name is not None and name.split(".")[-1] not in guarded and "*" not in guarded:
            found.append((node.lineno, name))
        if isinstance(node, (ast.If, ast.IfExp)):
            visit(node.test, guarded)
            inner = guarded | _guards(node.test)
            for child in (node.body if isinstance(node.body, list) else [node.body]):
                visit(child, inner)
            for child in (node.orelse if isinstance(node.orelse, list) else [node.orelse]):
                visit(child, guarded)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            return  # the guard itself names the removed API
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source), frozenset())
    return found


def tensorrt_sources() -> list[Path]:
    """Every module of the project that imports TensorRT (directly or through import_tensorrt)."""
    files = [*(ROOT / "detector").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    return sorted(p for p in files if "import tensorrt" in p.read_text() or "import_tensorrt()" in p.read_text())


def test_tensorrt_code_uses_no_api_removed_in_trt11_unguarded() -> None:
    sources = tensorrt_sources()
    assert ROOT / "detector" / "backends" / "tensorrt_build.py" in sources
    assert ROOT / "detector" / "backends" / "tensorrt_backend.py" in sources
    problems = {str(p.relative_to(ROOT)): hits for p in sources if (hits := unguarded_removed_names(p.read_text()))}
    assert problems == {}


def test_removed_api_checker_sees_unguarded_and_accepts_guarded_uses() -> None:
    assert unguarded_removed_names("config.set_flag(trt.BuilderFlag.FP16)") == [(1, "BuilderFlag.FP16")]
    assert unguarded_removed_names("ok = getattr(builder, 'platform_has_fast_fp16', True)") == \
        [(1, "platform_has_fast_fp16")]
    assert unguarded_removed_names("n = engine.device_memory_size") == [(1, "device_memory_size")]
    assert unguarded_removed_names("c = trt.IInt8EntropyCalibrator2") == [(1, "IInt8EntropyCalibrator2")]
    guarded = ("if hasattr(trt.BuilderFlag, 'FP16'):\n    config.set_flag(trt.BuilderFlag.FP16)\n"
               "if major < 11:\n    config.set_flag(trt.BuilderFlag.INT8)\n"
               "else:\n    n = engine.device_memory_size_v2\n")
    assert unguarded_removed_names(guarded) == []
    assert unguarded_removed_names("if hasattr(trt.BuilderFlag, 'FP16'):\n    pass\nelse:\n"
                                   "    config.set_flag(trt.BuilderFlag.FP16)\n") == [(4, "BuilderFlag.FP16")]


def test_versions_parse_and_engines_match_on_major_minor_patch() -> None:
    assert parse_version("10.3.0.26") == (10, 3, 0, 26)
    assert parse_version("11.4.0.106") == (11, 4, 0, 106)
    assert parse_version("10.0.1+cuda12") == (10, 0, 1)
    with pytest.raises(ValueError, match="not a TensorRT version: 'ten'"):
        parse_version("ten")
    check_engine_version("m.engine", "10.3.0.26", "10.3.0.30")  # same release, other build number
    check_engine_version("m.engine", None, "11.4.0.106")  # no sidecar record: let TensorRT decide
    with pytest.raises(ModelFileError) as err:
        check_engine_version("runs/m.engine", "10.3.0.26", "11.4.0.106")
    message = str(err.value)
    assert "\n" not in message and message.startswith("runs/m.engine: engine built by TensorRT 10.3.0.26, ")
    assert "this is TensorRT 11.4.0.106" in message and "rebuild" in message


@pytest.mark.parametrize("precision, trt_version, graph, has_flag, plan", [
    ("fp16", "11.4.0.106", "fp16", False, BuildPlan("fp16", strongly_typed=True, fp16_flag=False)),
    ("fp32", "11.4.0.106", "fp32", False, BuildPlan("fp32", strongly_typed=True, fp16_flag=False)),
    ("fp16", "10.3.0.26", "fp32", True, BuildPlan("fp16", strongly_typed=False, fp16_flag=True)),
    ("fp16", "10.3.0.26", "fp16", True, BuildPlan("fp16", strongly_typed=False, fp16_flag=True)),
    ("fp16", "10.13.0.35", "fp16", False, BuildPlan("fp16", strongly_typed=True, fp16_flag=False)),
    ("fp32", "10.3.0.26", "fp32", True, BuildPlan("fp32", strongly_typed=False, fp16_flag=False)),
    ("int8", "10.3.0.26", "int8", True, BuildPlan("int8", strongly_typed=True, fp16_flag=False)),
    ("int8", "11.4.0.106", "int8", False, BuildPlan("int8", strongly_typed=True, fp16_flag=False)),
])
def test_build_plan_per_tensorrt_version(precision: str, trt_version: str, graph: str, has_flag: bool,
                                         plan: BuildPlan) -> None:
    assert plan_build(precision, trt_version=trt_version, graph_precision=graph, has_fp16_flag=has_flag) == plan


def test_build_plan_errors_say_what_to_do() -> None:
    with pytest.raises(ModelFileError, match=r"^x.onnx: TensorRT 11.4.0.106 builds FP16 only from an FP16 graph.*"
                                             r"--format onnx --fp16"):
        plan_build("fp16", trt_version="11.4.0.106", graph_precision="fp32", has_fp16_flag=False, source="x.onnx")
    with pytest.raises(ModelFileError, match="^x.onnx: INT8 needs an explicitly quantized graph.*has none"):
        plan_build("int8", trt_version="10.3.0", graph_precision="fp16", has_fp16_flag=True, source="x.onnx")
    with pytest.raises(ModelFileError, match="quantized.*build it with precision int8"):
        plan_build("fp16", trt_version="11.0.0", graph_precision="int8", has_fp16_flag=False)
    with pytest.raises(ModelFileError, match="FP32 engine needs an FP32 graph, this one is fp16"):
        plan_build("fp32", trt_version="11.0.0", graph_precision="fp16", has_fp16_flag=False)
    with pytest.raises(BackendUnavailable, match="TensorRT 8.6.1 is too old"):
        plan_build("fp16", trt_version="8.6.1", graph_precision="fp16", has_fp16_flag=True)
    with pytest.raises(ValueError, match="precision must be fp32, fp16 or int8, got 'bf16'"):
        plan_build("bf16", trt_version="11.0.0", graph_precision="fp16", has_fp16_flag=False)


def test_qdq_graph_is_recognised_as_int8() -> None:
    from onnx import TensorProto, helper

    from detector.export_fp16 import graph_precision

    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [0.05])
    zero = helper.make_tensor("zero", TensorProto.INT8, [], [0])
    nodes = [helper.make_node("QuantizeLinear", ["images", "scale", "zero"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["output"])]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])], [scale, zero])
    assert graph_precision(helper.make_model(graph)) == "int8"


def test_sidecar_carries_precision_and_tensorrt_version(tmp_path: Path) -> None:
    meta = ModelMetadata(model_name="yolox_l", classes=("car", "bus"), input_size=(608, 960), decoded=False)
    strings = engine_sidecar(meta, precision="fp16", trt_version="11.4.0.106")
    assert strings["precision"] == "fp16" and strings["tensorrt_version"] == "11.4.0.106"
    assert meta.precision is None  # the caller's metadata is not modified
    engine = tmp_path / "yolox_l.engine"
    sidecar_path(engine).write_text(json.dumps(strings))
    assert sidecar_path(engine).name == "yolox_l.engine.json"
    read, built_by = read_sidecar(sidecar_path(engine))
    assert (read.model_name, read.classes, read.input_size, read.precision) == ("yolox_l", ("car", "bus"),
                                                                                (608, 960), "fp16")
    assert built_by == "11.4.0.106"
    assert read_sidecar(tmp_path / "none.engine.json") == (ModelMetadata(), None)
    sidecar_path(engine).write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="yolox_l.engine.json: engine metadata must be a JSON object"):
        read_sidecar(sidecar_path(engine))


def test_metadata_precision_is_optional_and_validated() -> None:
    old = ModelMetadata(model_name="m", decoded=False).to_strings()
    assert "precision" not in old and ModelMetadata.from_strings(old, source="old.onnx").precision is None
    assert ModelMetadata.from_strings({**old, "precision": "int8"}, source="q.onnx").precision == "int8"
    with pytest.raises(ModelFileError, match="^q.onnx: metadata 'precision' must be one of fp32, fp16, bf16, int8"):
        ModelMetadata.from_strings({**old, "precision": "half"}, source="q.onnx")


def test_build_without_tensorrt_is_a_clear_error(tmp_path: Path) -> None:
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    from detector.backends.tensorrt_build import build_engine

    with pytest.raises(BackendUnavailable, match="^TensorRT is not installed: install the NVIDIA TensorRT 10 or 11"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine")


@pytest.mark.parametrize("input_hw", [(288, 640), (640, 640), (416, 416), (608, 960)])
@pytest.mark.parametrize("legacy", [False, True])
def test_torch_letterbox_matches_opencv_letterbox_on_street_frames(input_hw: tuple[int, int], legacy: bool) -> None:
    # At most one grey level (OpenCV's bilinear uses fixed-point weights; legacy values are divided by
    # the std), on a minority of pixels.
    tol = 1.0 / 255.0 / 0.224 + 1e-5 if legacy else 1.0
    for frame in street_frames(count=3, step=60):
        ref, r_ref = preprocess_frame(frame, input_hw, legacy=legacy)
        slot = torch.full((3, *input_hw), -1.0)
        out, r = letterbox_torch(torch.from_numpy(frame), input_hw, out=slot, legacy=legacy)
        assert out is slot and r == r_ref
        diff = np.abs(out.numpy() - ref)
        assert diff.max() <= tol and diff.mean() < 0.15 * tol, (diff.max(), diff.mean())  # few pixels off by one


def test_torch_letterbox_rejects_non_uint8_frames() -> None:
    with pytest.raises(ValueError, match=r"expected a uint8 \(h, w, 3\) frame tensor, got \(4, 4\)"):
        letterbox_torch(torch.zeros(4, 4, dtype=torch.uint8), (32, 32))


def test_detector_device_path_gives_the_numpy_paths_detections(tmp_path: Path) -> None:
    """Detector uses a backend's `run_frames` (letterbox where the network runs, torch output decoded
    and thresholded on that device), as the TensorRT backend does on a GPU. The same path on CPU,
    through ONNX Runtime, must give the detections of the numpy letterbox path."""
    from detector.api import Detector, load_detector
    from detector.backends.onnx_backend import OnnxBackend
    from detector.export import export_onnx
    from tests.support.infer_models import assert_same_detections

    class DeviceLetterboxOnnx(OnnxBackend):
        def run_frames(self, frames):  # noqa: ANN001, ANN202
            batch = torch.empty((len(frames), 3, *self.input_size))
            ratios = [letterbox_torch(torch.from_numpy(f), self.input_size, out=batch[i])[1]
                      for i, f in enumerate(frames)]
            out = torch.from_numpy(self.run(batch.numpy()))
            return out, np.asarray(ratios), [f.shape[:2] for f in frames]

    from detector.checkpoint import load_model
    from streaming.detect import demo_model_path

    # The demo model (trained, 8 classes) knows only the synthetic world: on the street clip its
    # boxes are low-confidence, hence the low threshold (the comparison needs boxes, not right ones).
    size = (288, 640)
    model, ckpt = load_model(demo_model_path())
    path = export_onnx(model, tmp_path / "m.onnx", input_size=size,
                       metadata=ModelMetadata(model_name="demo", classes=tuple(ckpt.classes), input_size=size))
    frames = street_frames(count=4, step=45)
    device = Detector(DeviceLetterboxOnnx(path), conf_thresh=0.01)
    reference = load_detector(path, conf_thresh=0.01)
    for a, b in zip(device(frames), reference(frames)):
        # A grey level of letterbox difference moves a box by a fraction of a pixel.
        assert_same_detections(a, b, box_atol=1.0, score_atol=2e-3)
