"""StreamYOLO outputs equal the official StreamYOLO modules' (float64, shared seeded weights),
for the stacked two-frame input and for the online buffer path over three frames. The reference
outputs come from the official code once (tests/support/stream_golden.py says how); this test
only reads the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from detector.streamyolo import build_streamyolo
from tests.support.stream_golden import (GOLDEN_STREAM_MODELS, NUM_CLASSES, stream_golden_frames,
                                         stream_golden_weights)

GOLDEN = Path(__file__).resolve().parents[1] / "support" / "spec" / "streamyolo_golden_outputs.npz"


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as npz:
        return {k: npz[k] for k in npz.files}


def _model(name: str) -> torch.nn.Module:
    model = build_streamyolo(name, num_classes=NUM_CLASSES)
    model.load_state_dict(stream_golden_weights(model.state_dict()), strict=True)
    return model.double().eval()


@pytest.mark.parametrize("name", GOLDEN_STREAM_MODELS)
def test_two_frame_and_online_outputs_equal_the_official_code(name: str, expected: dict) -> None:
    model = _model(name)
    frames = [torch.from_numpy(f) for f in stream_golden_frames(3)]
    with torch.no_grad():
        two = model(torch.cat([frames[1], frames[0]], 1)).numpy()
        np.testing.assert_allclose(two, expected[f"{name}/two_frame"], rtol=1e-9, atol=1e-9)
        buffer = None
        for i, frame in enumerate(frames):
            out, buffer = model.forward_online(frame, buffer)
            np.testing.assert_allclose(out.numpy(), expected[f"{name}/online_{i}"], rtol=1e-9, atol=1e-9)
    # the reference is sensitive to the previous flow: frame 1 fused with frame 0 is not frame 1 alone
    with torch.no_grad():
        alone = model(frames[1]).numpy()
    assert np.abs(alone - expected[f"{name}/online_1"]).max() > 1e-7
