"""The session's pure parts: the noisy-runtime warning and the run-folder transaction."""
from __future__ import annotations

import pytest

from streaming.run_folder import INCOMPLETE, begin_run, finish_run
from streaming.session import check_run_complete, runtime_warnings


def test_noisy_runtimes_warn_against_the_warm_up():
    warmup = [0.5, 0.031, 0.030]  # the first call compiles: not the quiet speed
    assert runtime_warnings([0.03, 0.032, 0.035] * 10, warmup) == []
    loaded = [0.03] * 8 + [4.2, 4.1]  # the CPU got busy: p90 ~ 4 s
    (warning,) = runtime_warnings(loaded, warmup)
    assert "p90" in warning and "warm-up median 30.5 ms" in warning
    assert runtime_warnings([], warmup) == [] and runtime_warnings(loaded, []) == []


def test_run_folder_swaps_in_whole_and_marks_what_did_not_finish(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "report.md").write_text("old run")
    work = begin_run(out)
    assert work.parent == tmp_path and (work / INCOMPLETE).is_file()
    (work / "report.md").write_text("new run")
    with pytest.raises(ValueError, match="incomplete run"):
        check_run_complete(work)
    assert (out / "report.md").read_text() == "old run"  # untouched until the swap
    assert finish_run(work, out) == out
    assert (out / "report.md").read_text() == "new run" and not (out / INCOMPLETE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no old or partial folder left
    check_run_complete(out)


def test_a_finished_run_removes_partial_folders_of_processes_that_are_gone(tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    failed = tmp_path / f"run.partial-{dead_pid}"
    failed.mkdir()
    (failed / INCOMPLETE).write_text("x")
    running = tmp_path / f"run.partial-{os.getppid()}"  # a live process: a run still going
    running.mkdir()
    (running / INCOMPLETE).write_text("x")
    unmarked = tmp_path / "run.partial-notapid"
    unmarked.mkdir()
    finish_run(begin_run(out), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", running.name, unmarked.name])


def test_a_streamyolo_run_resets_its_buffer_and_fuses_the_previous_processed_frame(tmp_path):
    """Each sequence starts afresh (the warm-up and the sequence before leave nothing behind), and
    the stream pass at 100 ms fuses each processed frame with the one processed before it (frames
    0, 3, 6), not with the every-frame pass's neighbour: the cache is not replayed."""
    import numpy as np

    from data.coco import read_image
    from data.synthetic import generate_world
    from detector.api import load_detector
    from detector.checkpoint import save_checkpoint
    from streaming.config import StreamingConfig
    from streaming.session import stream_session
    from tests.support.stream_models import random_streamyolo

    world = tmp_path / "world"
    generate_world(world, sequences=2, frames=7, size=(192, 128), seed=2, val_fraction=1.0, progress=False)
    model = tmp_path / "stream.pth"
    save_checkpoint(model, random_streamyolo(num_classes=8), model_name="streamyolo_nano", input_size=[64, 96])
    cfg = StreamingConfig(model=str(model), data=str(world), out=str(tmp_path / "run"), latency="fixed:0.1",
                          conf_thresh=0.0)
    session = stream_session(cfg)
    fresh = load_detector(model, conf_thresh=0.0, backend=cfg.backend)  # the runtime the session chose
    seq = session.dataset.sequences[1]

    def fresh_run(indices):
        fresh.reset()
        return [fresh([read_image(seq.frames[i].path)])[0] for i in indices]

    offline, stream = session.offline_logs[1], session.logs[1]
    assert stream.meta["forecast_frames"] == 1 and stream.meta["mode"] == "simulated"
    for out, want in zip(offline.outputs, fresh_run(range(7))):
        np.testing.assert_allclose(out.detections.boxes, want.boxes, rtol=1e-5, atol=1e-3)
    processed = [o.frame_index for o in stream.outputs]
    assert processed == [0, 3, 6]
    for out, want in zip(stream.outputs, fresh_run(processed)):
        np.testing.assert_allclose(out.detections.boxes, want.boxes, rtol=1e-5, atol=1e-3)
    replayed = offline.outputs[3].detections.boxes  # frame 3 fused with frame 2
    live = stream.outputs[1].detections.boxes
    assert live.shape != replayed.shape or not np.allclose(live, replayed, atol=1e-3)
