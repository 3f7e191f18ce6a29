"""StreamYOLO: the official S/M/L layouts key for key, the DFP fusion, and the online buffer
(one backbone pass per frame, reset between streams) through load_detector."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.api import load_detector
from detector.checkpoint import load_model, save_checkpoint
from detector.info import count_params
from detector.streamyolo import STREAMYOLO_MODELS, StreamYOLO, build_streamyolo
from tests.support.stream_models import random_streamyolo

SPEC = Path(__file__).resolve().parents[1] / "support" / "spec"  # vendored from shared/spec
MANIFEST = SPEC / "streamyolo_official_state_dicts.json"
HW = (64, 96)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _synthesised(entry: dict) -> dict[str, torch.Tensor]:
    """A state_dict with the manifest's keys and shapes (values do not matter for strictness)."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in entry["keys"]:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.01
    return state


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_official_layout_key_for_key(size: str, manifest: dict, tmp_path: Path) -> None:
    entry = manifest[f"streamyolo_{size}"]
    model = build_streamyolo(f"streamyolo_{size}", num_classes=entry["num_classes"])
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == [(k, list(s)) for k, s in entry["keys"]]  # same keys, shapes and order
    assert len(ours) == {"s": 480, "m": 624, "l": 768}[size]
    assert count_params(model) == entry["num_params"]

    # An official release is a bare {"model": state_dict} without metadata: recognised from its keys.
    state = _synthesised(entry)
    path = tmp_path / f"streamyolo_{size}.pth"
    torch.save({"model": state}, path)
    loaded, meta = load_model(path)
    assert isinstance(loaded, StreamYOLO) and meta.model_name == f"streamyolo_{size}"
    assert meta.forecast_frames == 1
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_spec_multipliers_match_the_manifest(manifest: dict) -> None:
    from detector.zoo import MODEL_ZOO

    for size in ("s", "m", "l"):
        base = MODEL_ZOO[STREAMYOLO_MODELS[f"streamyolo_{size}"].base]
        assert (base.depth, base.width) == (manifest[f"streamyolo_{size}"]["depth"],
                                            manifest[f"streamyolo_{size}"]["width"])


def _model(seed: int = 0) -> StreamYOLO:
    return random_streamyolo(seed=seed)


def test_dfp_fuses_halves_of_both_flows_and_adds_the_current() -> None:
    model = _model()
    cur, prev = torch.rand(1, 3, *HW) * 255, torch.rand(1, 3, *HW) * 255
    with torch.no_grad():
        fused = model.backbone(torch.cat([cur, prev], 1))
        c, p = model.backbone.pan(cur), model.backbone.pan(prev)
    for level, jian in enumerate((model.backbone.jian2, model.backbone.jian1, model.backbone.jian0)):
        half = c[level].shape[1] // 2
        with torch.no_grad():
            assert torch.allclose(fused[level][:, :half], jian(c[level]) + c[level][:, :half], atol=1e-5)
            assert torch.allclose(fused[level][:, half:], jian(p[level]) + c[level][:, half:], atol=1e-5)
    assert not torch.allclose(fused[0], model.backbone(torch.cat([cur, cur], 1))[0])  # prev matters


def test_online_buffer_equals_the_two_frame_model() -> None:
    model = _model()
    frames = [torch.rand(1, 3, *HW) * 255 for _ in range(3)]
    with torch.no_grad():
        first, buffer = model.forward_online(frames[0])
        assert torch.allclose(first, model(frames[0]), atol=1e-5)  # the first frame is its own previous
        for prev, cur in zip(frames, frames[1:]):
            online, buffer = model.forward_online(cur, buffer)
            assert torch.allclose(online, model(torch.cat([cur, prev], 1)), atol=1e-4)
        with pytest.raises(ValueError, match="buffer"):
            model.forward_online(torch.rand(1, 3, 96, 96), buffer[:2])


def _frames(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(HW[0], HW[1], 3), dtype=np.uint8) for _ in range(n)]


def test_load_detector_keeps_the_buffer_and_resets_it(tmp_path: Path) -> None:
    path = tmp_path / "stream.pth"
    save_checkpoint(path, _model(), model_name="streamyolo_nano", input_size=list(HW))
    det = load_detector(path, conf_thresh=0.0, threads=1)
    assert det.forecast_frames == 1 and det.backend.stateful
    # a black frame, then noise: different enough to move an untrained head
    a, b = det.preprocess([np.zeros((HW[0], HW[1], 3), np.uint8), _frames(1, seed=1)[0]])[0]
    first = det.infer_raw(a[None])
    second = det.infer_raw(b[None])  # fused with a's features
    det.reset()
    alone = det.infer_raw(b[None])  # b as a first frame
    assert np.abs(second - alone).max() > 1e-3
    det.reset()
    np.testing.assert_array_equal(det.infer_raw(a[None]), first)
    det.reset()
    batch = det.infer_raw(np.stack([a, b]))  # a batch is consecutive frames of one stream
    np.testing.assert_allclose(batch[1:], second, rtol=1e-5, atol=1e-4)
    assert len(det([_frames(1, seed=2)[0]])) == 1  # the full call path too
    # a plain YOLOX checkpoint stays stateless
    from detector.model import build_model

    plain = tmp_path / "plain.pth"
    save_checkpoint(plain, build_model("yolox_nano", num_classes=3), input_size=list(HW))
    det = load_detector(plain, threads=1)
    assert det.forecast_frames == 0 and not getattr(det.backend, "stateful", False)
    det.reset()  # a no-op
