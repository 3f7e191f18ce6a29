"""The YOLOX family matches the official checkpoints key for key, and the paper's size table."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.backends.base import ModelMetadata
from detector.checkpoint import CheckpointError, load_checkpoint, load_model, read_metadata, save_checkpoint
from detector.info import count_gflops, count_params
from detector.model import build_model
from detector.zoo import MODEL_ZOO, WeightsUnavailable, resolve_weights
from tests.support.golden import GOLDEN_MODELS, golden_input, golden_weights

SPEC = Path(__file__).resolve().parents[1] / "support" / "spec"  # vendored from shared/spec
MANIFEST = SPEC / "yolox_official_state_dicts.json"
PAPER_GFLOPS = {"yolox_nano": 1.08, "yolox_tiny": 6.45, "yolox_s": 26.8, "yolox_m": 73.8,
                "yolox_l": 155.6, "yolox_x": 281.9, "yolov3": 185.3}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.mark.parametrize("name", list(MODEL_ZOO))
def test_state_dict_matches_official_manifest(name: str, manifest: dict) -> None:
    model = build_model(name)
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    official = [(k, list(s)) for k, s in manifest[name]["state_dict"]]
    assert ours == official  # same keys, same shapes, same order
    assert count_params(model) == manifest[name]["num_params"]


@pytest.mark.parametrize("name", list(MODEL_ZOO))
def test_gflops_match_paper(name: str) -> None:
    gflops = count_gflops(build_model(name), MODEL_ZOO[name].input_size)
    assert gflops == pytest.approx(PAPER_GFLOPS[name], rel=0.02)


def test_batchnorm_and_prior_bias_init() -> None:
    model = build_model("yolox_nano", num_classes=3)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-3 and m.momentum == 0.03 for m in bns)
    prior = -torch.log(torch.tensor((1 - 0.01) / 0.01))
    for conv in list(model.head.cls_preds) + list(model.head.obj_preds):
        assert torch.allclose(conv.bias, prior.expand_as(conv.bias))


def test_output_layout_train_and_eval() -> None:
    model = build_model(depth=0.33, width=0.25, num_classes=5)
    x = torch.rand(2, 3, 96, 160) * 255
    model.train()
    raw = model(x)
    n = sum((96 // s) * (160 // s) for s in (8, 16, 32))
    assert raw.shape == (2, n, 10)
    model.eval()
    with torch.no_grad():
        decoded = model(x)
        model.head.decode_in_inference = False
        undecoded = model(x)
    assert decoded.shape == undecoded.shape == (2, n, 10)
    assert ((undecoded[..., 4:] >= 0) & (undecoded[..., 4:] <= 1)).all()
    # Decoded widths are exp(raw) * stride: positive, and the first anchor sits at stride 8.
    assert (decoded[..., 2:4] > 0).all()
    assert torch.allclose(decoded[0, 0, 2], torch.exp(undecoded[0, 0, 2]) * 8)


@pytest.mark.parametrize("wrap", [True, False])
def test_checkpoint_round_trip_is_strict_and_exact(tmp_path: Path, wrap: bool) -> None:
    torch.manual_seed(0)
    model = build_model("yolox_nano", num_classes=8).eval()
    for m in model.modules():  # non-trivial BN statistics so the check means something
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "ckpt.pth"
    if wrap:
        save_checkpoint(path, model, start_epoch=3, classes=["a"] * 8)
    else:
        torch.save(model.state_dict(), path)
    loaded, meta = load_model(path)
    assert loaded.num_classes == 8 and meta.model_name == "yolox_nano"
    x = torch.rand(1, 3, 128, 128) * 255
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_fuse_keeps_outputs() -> None:
    torch.manual_seed(1)
    model = build_model("yolox_tiny", num_classes=4).eval()
    x = torch.rand(1, 3, 128, 160) * 255
    with torch.no_grad():
        ref = model(x)
        fused = model.fuse()(x)
    assert torch.allclose(ref, fused, atol=1e-3, rtol=1e-4)


def test_folded_focus_stem_keeps_outputs() -> None:
    """The exporters' stem: space-to-depth + 3x3 conv as one 6x6 stride-2 conv, the same numbers."""
    import copy

    from detector.blocks import fold_space_to_depth

    torch.manual_seed(2)
    model = build_model("yolox_tiny", num_classes=4).double().eval()
    x = torch.rand(1, 3, 128, 160, dtype=torch.float64) * 255
    folded = fold_space_to_depth(copy.deepcopy(model).fuse())
    stem = folded.backbone.backbone.stem
    assert stem.folded and tuple(stem.conv.conv.weight.shape[1:]) == (3, 6, 6) and stem.conv.conv.stride == (2, 2)
    with torch.no_grad():
        assert torch.allclose(model(x), folded(x), atol=1e-9, rtol=1e-9)


def test_custom_depth_width_classes_load_back(tmp_path: Path) -> None:
    model = build_model(depth=0.5, width=0.3125, num_classes=2)
    path = tmp_path / "custom.pth"
    save_checkpoint(path, model)
    loaded, meta = load_model(path)
    assert loaded.num_classes == 2
    assert list(loaded.state_dict()) == list(model.state_dict())


def test_checkpoint_metadata_is_typed_and_older_layouts_read_alike(tmp_path: Path) -> None:
    model = build_model("yolox_nano", num_classes=2)
    typed = ModelMetadata(model_name="mine", classes=("a", "b"), input_size=(224, 256), legacy=False)
    save_checkpoint(tmp_path / "typed.pth", model, typed)
    _, entries = load_checkpoint(tmp_path / "typed.pth")
    assert read_metadata(entries, source="typed.pth") == typed
    # Checkpoints written before the typed metadata kept the same facts as flat keys.
    torch.save({"model": model.state_dict(), "model_name": "mine", "classes": ["a", "b"],
                "input_size": [224, 256], "legacy": False}, tmp_path / "flat.pth")
    _, flat = load_model(tmp_path / "flat.pth")
    _, new = load_model(tmp_path / "typed.pth")
    assert flat == new == typed
    # An official release: a bare state_dict; name, input size and legacy come from the zoo.
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    _, bare = load_model(tmp_path / "bare.pth")
    assert (bare.model_name, bare.classes, bare.input_size, bare.legacy) == ("yolox_nano", None, (416, 416), False)
    torch.save({"model": model.state_dict(), "classes": ["a"]}, tmp_path / "wrong.pth")
    with pytest.raises(CheckpointError, match="wrong.pth: metadata lists 1 classes but the weights have 2"):
        load_model(tmp_path / "wrong.pth")


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pth: checkpoint file not found"):
        load_checkpoint(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="junk.pth: not a PyTorch checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pth"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="no YOLOX weights"):
        load_checkpoint(other)
    good = tmp_path / "nano.pth"
    save_checkpoint(good, build_model("yolox_nano", num_classes=8))
    with pytest.raises(CheckpointError, match="has 8 classes but 80 were expected"):
        load_model(good, num_classes=80)


def test_named_weights_offline_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOLOX_STREAMING_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match=r"yolox_s: weights not found at .*yolox_s.pth; download"):
        resolve_weights("yolox_s", download=False)
    (tmp_path / "yolox_s.pth").write_bytes(b"x")
    assert resolve_weights("yolox_s", download=False) == tmp_path / "yolox_s.pth"


@pytest.mark.parametrize("name", GOLDEN_MODELS)
def test_outputs_identical_to_the_official_model_code(name: str) -> None:
    """Same weights, same input: our eval output equals the official modules' (see
    tests/support/golden.py for how the reference file was made)."""
    expected = np.load(SPEC / "official_golden_outputs.npz")[name]
    model = build_model(name)
    model.load_state_dict(golden_weights(model.state_dict()), strict=True)
    model = model.double().eval()
    with torch.no_grad():
        out = model(torch.from_numpy(golden_input()).double()).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)
