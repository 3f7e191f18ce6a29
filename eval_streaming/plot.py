"""One PNG per run: which frames were processed when, and how far behind each query was."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from eval_streaming.pairing import Pairing
from streaming.log import StreamLog


def plot_run(logs: Sequence[StreamLog], pairings: Sequence[Pairing], path: str | Path,
             *, max_sequences: int = 4) -> Path:
    """Left: processed frame index against completion time (with the arrival line for
    reference; the horizontal gap is the latency). Right: frames behind at every query."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    timeline, behind = fig.subplots(1, 2)
    for log, pairing in list(zip(logs, pairings))[:max_sequences]:
        t_done = np.array([o.t_done for o in log.outputs])
        index = np.array([o.frame_index for o in log.outputs])
        (line,) = timeline.step(t_done, index, where="post", label=log.sequence)
        timeline.plot(index / log.fps, index, "o", color=line.get_color(), markersize=4)
        frames = np.arange(pairing.num_frames)
        behind.plot(frames, pairing.frames_behind, color=line.get_color(), label=log.sequence, linewidth=1,
                    drawstyle="steps-mid")
        missed = pairing.source_frame < 0
        if missed.any():
            behind.plot(frames[missed], np.zeros(missed.sum()), "x", color=line.get_color(), markersize=4)
    if logs:
        n = max(log.num_frames for log in logs)
        fps = logs[0].fps
        timeline.plot([0, n / fps], [0, n], "k--", linewidth=0.8, label="frame arrival")
    timeline.set_xlabel("time (s)")
    timeline.set_ylabel("frame index of the latest output")
    timeline.set_title("processed frames (dots: input time, steps: available output)")
    timeline.legend(fontsize=7)
    behind.set_xlabel("ground-truth frame j")
    behind.set_ylabel("frames behind (j - source frame)")
    behind.set_title("staleness at each query (x: nothing yet)")
    behind.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    return path
