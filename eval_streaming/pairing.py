"""The one pairing rule of streaming evaluation.

Ground-truth frame j is queried at t_j = (j - eta) / fps, the sAP toolkit's sign (eta >= -1;
eta = -1 scores frame j with what was available one frame later), and gets the latest output
with t_done <= t_j (not strict: an output finishing exactly at t_j counts). In the default
"exact" timing, times are compared in frame units with the scheduler's FRAME_EPS, so
3 * (1/30) seconds counts as frame 3; in "toolkit" timing they are compared as raw floats, as
the toolkit does. No output yet: an empty prediction (a missed frame). Each prediction keeps at
most `max_det` detections (the highest-scoring), as the challenge server does.

With a forecaster, outputs are fed in completion order as they become available (each at its
input time frame_index / fps) and the tracks are extrapolated to the ground-truth frame's own
time j / fps, as the toolkit's forecasting does. A detector that already forecasts (StreamYOLO's
boxes describe frame_index + 1, `forecast_frames` in its log's meta) has its outputs stamped at the
time they describe, so a Kalman forecaster on top extrapolates only the remaining gap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from data.detections import Detections
from streaming.log import StreamOutput
from streaming.scheduler import FRAME_EPS, TIMING_MODES

MAX_DET = 100  # detections per frame the Streaming Perception Challenge accepts


class Forecaster(Protocol):
    def reset(self) -> None: ...
    def update(self, detections: Detections, t_input: float) -> None: ...
    def forecast(self, t_query: float) -> Detections: ...


@dataclass
class Pairing:
    """Per ground-truth frame: which output answered it and what was predicted."""

    output_index: np.ndarray  # (num_frames,) index into the outputs list, -1 = nothing yet
    source_frame: np.ndarray  # (num_frames,) frame_index of that output, -1 = nothing yet
    predictions: list[Detections]

    @property
    def num_frames(self) -> int:
        return len(self.output_index)

    @property
    def missed(self) -> int:
        return int((self.source_frame < 0).sum())

    @property
    def in_time(self) -> int:
        return int((self.source_frame == np.arange(self.num_frames)).sum())

    @property
    def frames_behind(self) -> np.ndarray:
        """j - source frame for every answered frame (NaN where nothing was available yet)."""
        behind = np.arange(self.num_frames, dtype=np.float64) - self.source_frame
        behind[self.source_frame < 0] = np.nan
        return behind


def latest_done(t_done: np.ndarray, query_positions: np.ndarray, fps: float, timing: str = "exact") -> np.ndarray:
    """Index of the latest output with t_done <= query (both as frame positions), -1 if none.

    `t_done` must be non-decreasing, which a sequential detector guarantees and the log reader
    checks.
    """
    t_done = np.asarray(t_done, dtype=np.float64)
    query_positions = np.asarray(query_positions, dtype=np.float64)
    if timing == "toolkit":
        return np.searchsorted(t_done, query_positions / fps, side="right") - 1
    return np.searchsorted(t_done * fps, query_positions + FRAME_EPS, side="right") - 1


def pair_outputs(
    outputs: Sequence[StreamOutput],
    *,
    num_frames: int,
    fps: float,
    eta: float = 0.0,
    forecaster: Forecaster | None = None,
    timing: str = "exact",
    max_det: int = MAX_DET,
    forecast_frames: int = 0,
) -> Pairing:
    """Pair every ground-truth frame of one sequence with the stream's belief at its query time."""
    if timing not in TIMING_MODES:
        raise ValueError(f"unknown timing mode {timing!r}: use one of {', '.join(TIMING_MODES)}")
    t_done = np.array([o.t_done for o in outputs], dtype=np.float64)
    if len(t_done) > 1 and (np.diff(t_done) < 0).any():
        raise ValueError("pair_outputs: outputs must be in completion (t_done) order")
    positions = np.arange(num_frames, dtype=np.float64) - eta
    chosen = latest_done(t_done, positions, fps, timing) if len(outputs) else np.full(num_frames, -1)
    chosen = chosen.astype(np.int64)
    source = np.array([outputs[k].frame_index if k >= 0 else -1 for k in chosen], dtype=np.int64)
    empty = Detections.empty()
    if forecaster is None:
        predictions = [outputs[k].detections.top(max_det) if k >= 0 else empty for k in chosen]
        return Pairing(chosen, source, predictions)

    forecaster.reset()
    fed = -1
    predictions = []
    for j, k in enumerate(chosen):
        while fed < k:
            fed += 1
            forecaster.update(outputs[fed].detections, (outputs[fed].frame_index + forecast_frames) / fps)
        predictions.append(forecaster.forecast(j / fps).top(max_det) if k >= 0 else empty)
    return Pairing(chosen, source, predictions)


def offline_predictions(outputs: Sequence[StreamOutput], num_frames: int) -> list[Detections | None]:
    """Each frame's own detections (None where the run has no output for that frame)."""
    per_frame: list[Detections | None] = [None] * num_frames
    for out in outputs:
        per_frame[out.frame_index] = out.detections
    return per_frame


def offline_targets(image_ids: Sequence[int], frames: Sequence[Detections], forecast_frames: int = 0
                    ) -> tuple[list[int], list[Detections]]:
    """What an every-frame pass is scored on: each frame's ground truth against the output that
    describes it. Frame i's own detections; for a learned forecaster (`forecast_frames` k > 0:
    frame i's output describes frame i + k) frame i + k against frame i's output, the next-frame
    AP of detector.eval; a sequence's first k frames have no prediction and are not scored."""
    k = int(forecast_frames)
    if k <= 0:
        return list(image_ids), list(frames)
    return list(image_ids[k:]), list(frames[:max(len(frames) - k, 0)])
