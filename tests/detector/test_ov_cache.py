"""The automatic fast CPU path: checkpoints exported once into a SHA-256-keyed cache."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("openvino", reason="OpenVINO (test extra) runs the cached IR")

from detector.api import choose_backend, load_detector  # noqa: E402
from detector.backends.base import ModelFileError  # noqa: E402
from detector.ov_cache import CACHE_ENV, GRAPH_VERSION, cache_root, cached_export, file_sha256  # noqa: E402
from tests.support.infer_models import assert_same_detections, make_frames, save_lively_checkpoint  # noqa: E402


def test_export_is_built_once_per_checkpoint_precision_and_size(tmp_path) -> None:
    ckpt = save_lively_checkpoint(tmp_path / "m.pth")
    cache = tmp_path / "cache"
    xml = cached_export(ckpt, fmt="openvino", precision="bf16", input_hw=None, cache=cache, quiet=True)
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    assert xml.parent.name == f"{file_sha256(ckpt)[:16]}-bf16-224x256-g{GRAPH_VERSION}"  # the checkpoint's own size
    stamp = xml.stat().st_mtime_ns
    again = cached_export(ckpt, fmt="openvino", precision="bf16", input_hw=None, cache=cache, quiet=True)
    assert again == xml and again.stat().st_mtime_ns == stamp  # reused, not rebuilt
    other = cached_export(ckpt, fmt="openvino", precision="f32", input_hw=(160, 192), cache=cache, quiet=True)
    assert other.parent.name.endswith(f"-fp32-160x192-g{GRAPH_VERSION}")
    onnx = cached_export(ckpt, fmt="onnx", precision="fp32", input_hw=None, cache=cache, quiet=True)
    assert onnx.suffix == ".onnx"
    retrained = save_lively_checkpoint(tmp_path / "m.pth", seed=1)  # same path, new weights
    assert cached_export(retrained, fmt="openvino", precision="bf16", input_hw=None, cache=cache,
                         quiet=True) != xml
    assert not [p for p in (cache / "openvino").iterdir() if p.name.startswith(".")]  # no scratch left


def test_auto_backend_runs_a_checkpoint_through_openvino(tmp_path, monkeypatch) -> None:
    ckpt = save_lively_checkpoint(tmp_path / "m.pth")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env_cache"))
    assert cache_root() == tmp_path / "env_cache"
    frames = make_frames(0)
    torch_det = load_detector(ckpt, backend="torch", conf_thresh=0.3, threads=1)
    ov_det = load_detector(ckpt, backend="auto", precision="f32", conf_thresh=0.3, threads=1)
    assert torch_det.backend.kind == "torch" and ov_det.backend.kind == "openvino"
    assert ov_det.backend.precision == "fp32" and "precision=fp32" in repr(ov_det)
    assert os.listdir(tmp_path / "env_cache" / "openvino")  # in the env's folder, not the home
    for a, b in zip(torch_det(frames), ov_det(frames)):
        assert_same_detections(a, b, box_atol=0.05, score_atol=1e-3)
    onnx_det = load_detector(ckpt, backend="onnx", conf_thresh=0.3, threads=1)
    assert onnx_det.backend.kind == "onnx"
    np.testing.assert_allclose(onnx_det(frames)[0].scores, torch_det(frames)[0].scores, atol=1e-3)


def test_backend_choice_rules(tmp_path) -> None:
    pth, xml = tmp_path / "m.pth", tmp_path / "m.xml"
    assert choose_backend("torch", None, device="cpu", path=pth) == "torch"  # the file's own runtime
    assert choose_backend("torch", "auto", device="cpu", path=pth) == "openvino"
    assert choose_backend("torch", "auto", device="cuda", path=pth) == "torch"  # GPUs keep torch
    assert choose_backend("onnx", "auto", device="cpu", path=pth) == "onnx"  # exported graphs run as they are
    assert choose_backend("openvino", "openvino", device="cpu", path=xml) == "openvino"
    with pytest.raises(ModelFileError, match="m.xml: a openvino model file cannot run with backend 'torch'"):
        choose_backend("openvino", "torch", device="cpu", path=xml)
    with pytest.raises(ValueError, match="backend must be one of"):
        choose_backend("torch", "tflite", device="cpu", path=pth)
