import numpy as np

from data.detections import Detections
from detector.runner import FrameRunner


class StepClock:
    """Advances by `step` seconds on every read: a runtime is exactly one step."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def _detector(frames):
    out = []
    for f in frames:
        if f.ndim != 3:
            raise ValueError(f"expected (H, W, 3), got {f.shape}")
        out.append(Detections(np.array([[0, 0, f.shape[1], f.shape[0]]], np.float32), np.ones(1, np.float32),
                              np.zeros(1, np.int64)))
    return out


def _load(i: int) -> np.ndarray:
    if i == 2:
        raise FileNotFoundError("frame_2.jpg: image file not found")
    if i == 3:
        return np.zeros((4, 4), np.uint8)  # the detector rejects it
    return np.zeros((10 + i, 20, 3), np.uint8)


def test_runner_times_the_call_and_skips_unreadable_and_rejected_frames():
    runner = FrameRunner(detector=_detector, load_frame=_load, clock=StepClock(0.25))
    ok, missing, rejected = runner(1), runner(2), runner(3)
    assert ok.detections is not None and ok.detections.boxes[0, 3] == 11 and ok.runtime_s == 0.25
    assert missing.detections is None and missing.runtime_s == 0.0 and "not found" in missing.error
    assert rejected.detections is None and rejected.runtime_s == 0.25 and "expected (H, W, 3)" in rejected.error
    assert [b.split(":")[0] for b in runner.bad_frames] == ["frame 2", "frame 3"]


def test_batch_keeps_frame_order_and_marks_skipped_frames():
    runner = FrameRunner(detector=_detector, load_frame=_load, clock=StepClock(0.5))
    results = runner.run_batch([0, 2, 4])
    assert [r.index for r in results] == [0, 2, 4]
    assert results[1].detections is None
    assert results[0].detections.boxes[0, 3] == 10 and results[2].detections.boxes[0, 3] == 14
    assert results[0].runtime_s == results[2].runtime_s == 0.25
