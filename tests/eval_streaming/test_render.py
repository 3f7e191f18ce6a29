"""Videos of a streaming run (eval_streaming.render): a tiny synthetic world streamed with
ground-truth detections at a fixed 1.5-frame latency, rendered with real PyAV and read back."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.argoverse import ArgoverseHD
from data.cli import run_command
from data.classes import ARGOVERSE_HD_CLASSES
from data.coco import read_image
from data.detections import Detections
from data.video import VideoSource
from eval_streaming.evaluate import pair_logs
from eval_streaming.render import caption, compose_frame, render_sequence, video_size
from eval_streaming.render import main as render_main
from streaming.latency import parse_latency
from streaming.log import StreamLog, write_log
from streaming.simulate import CachedFrames, simulate_sequence

FRAMES, SIZE = 8, (320, 200)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(world root, annotation file, run folder, dataset, log): greedy, fixed 0.05 s at 30 FPS."""
    from data.synthetic import generate_world

    root = tmp_path_factory.mktemp("world")
    generate_world(root, sequences=1, frames=FRAMES, size=SIZE, seed=3, val_fraction=1.0, progress=False)
    annotations = root / "annotations" / "val.json"
    dataset = ArgoverseHD(annotations, root)
    seq = dataset.sequences[0]
    per_frame = []
    for f in seq.frames:
        gt = dataset.ground_truth(f.image_id)
        per_frame.append(Detections(gt.boxes, np.full(len(gt), 0.9), gt.labels))
    sim = simulate_sequence(CachedFrames(per_frame), num_frames=FRAMES, fps=30.0,
                            latency=parse_latency("fixed:0.05"), key=seq.sid)
    log = StreamLog(seq.name, seq.sid, 30.0, FRAMES, [f.image_id for f in seq.frames], list(dataset.classes),
                    "fixed:0.05", "greedy", sim.outputs)
    run_dir = tmp_path_factory.mktemp("run")
    write_log(log, run_dir / "logs" / f"{seq.name}.jsonl")
    return root, annotations, run_dir, dataset, log


def _regions(dets: Detections, shape: tuple[int, int], band: int) -> np.ndarray:
    """Mask of the boxes (and the label tab above each) in a video frame with a header band."""
    mask = np.zeros(shape, bool)
    for x1, y1, x2, y2 in np.round(dets.boxes).astype(int):
        mask[max(0, band + y1 - 14): band + y2 + 3, max(0, x1 - 2): x2 + 3] = True
    return mask


def test_video_shows_the_scored_prediction_of_every_frame(run):
    root, annotations, run_dir, dataset, log = run
    assert run_command(render_main, ["--log", str(run_dir), "--annotations", str(annotations)]) == 0  # images: annotations/..
    video = run_dir / "videos" / f"{log.sequence}.mp4"
    source = VideoSource(video)
    decoded = [frame for _, frame in source]
    assert len(decoded) == FRAMES and source.skipped == 0 and source.fps == pytest.approx(30.0)

    pairing = pair_logs([log], annotations=dataset)[0]
    # 1.5-frame latency: frames 0, 1, 3, 4, 6, 7 processed, nothing before frame 2
    assert pairing.source_frame.tolist() == [-1, -1, 0, 1, 1, 3, 4, 4]
    band = decoded[0].shape[0] - SIZE[1]
    assert decoded[0].shape[1] == SIZE[0] and band > 0 and band % 2 == 0
    first_boxes = pairing.predictions[2]
    for j, frame in enumerate(decoded):
        seq_frame = dataset.sequences[0].frames[j]
        raw = read_image(seq_frame.path)
        processed = any(o.frame_index == j for o in log.outputs)
        lines = caption(log, pairing, j, processed=processed)
        # what the frame would look like with ground truth alone
        gt_only = compose_frame(raw, dataset.ground_truth(seq_frame.image_id).boxes, Detections.empty(),
                                log.classes, lines, SIZE).astype(np.int16)
        diff = np.abs(frame.astype(np.int16) - gt_only).mean(axis=2)
        if pairing.source_frame[j] < 0:
            # no prediction boxes where the first output's boxes would go: codec noise only
            assert diff[_regions(first_boxes, diff.shape, band)].mean() < 12, j  # measured ~6
        else:
            boxes = _regions(pairing.predictions[j], diff.shape, band)
            assert diff[boxes].mean() > 25, j  # measured ~40
            vs_raw = np.abs(frame[band:].astype(np.int16) - raw).mean(axis=2)
            assert vs_raw[boxes[band:]].mean() > 25, j  # measured ~40
        assert diff[:band].mean() < 12, j  # the header is the caption we expect


def test_captions_say_source_staleness_and_frame_fate(run):
    *_, dataset, log = run
    pairing = pair_logs([log], annotations=dataset)[0]
    assert caption(log, pairing, 0, processed=True) == [f"{log.sequence}  frame 0  t=0.000s  processed", "no output yet"]
    assert caption(log, pairing, 5, processed=False) == [f"{log.sequence}  frame 5  t=0.167s  dropped",
                                                          "showing frame 3 (2 behind)"]
    assert caption(log, pairing, 7, processed=True, forecast="kalman")[1] == "showing frame 4 (3 behind), kalman forecast to frame 7"


def test_forecast_cli_and_unreadable_frames_are_skipped_and_counted(run, tmp_path, capsys):
    root, annotations, run_dir, dataset, log = run
    out = tmp_path / "videos"
    assert run_command(render_main, ["--log", str(run_dir / "logs"), "--annotations", str(annotations), "--data", str(root),
                 "--forecast", "kalman", "--out", str(out), "--max-sequences", "1"]) == 0
    assert len([f for _, f in VideoSource(out / f"{log.sequence}.mp4")]) == FRAMES

    pairing = pair_logs([log], annotations=dataset)[0]
    paths = [f.path for f in dataset.sequences[0].frames]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    paths[3], paths[5] = broken, tmp_path / "missing.jpg"
    result = render_sequence(log, pairing, paths, lambda j: np.zeros((0, 4)), tmp_path / "skip.mp4", progress=False)
    assert result.frames == FRAMES - 2 and len(result.skipped) == 2 and "broken.jpg" in result.skipped[0]
    assert len([f for _, f in VideoSource(result.path)]) == FRAMES - 2


def test_wide_frames_are_scaled_down_with_their_boxes():
    assert video_size(1920, 1200) == (960, 600) and video_size(320, 200) == (320, 200)
    assert video_size(801, 601) == (800, 600) and video_size(1001, 600) == (960, 574)
    image = np.full((1200, 1920, 3), 90, np.uint8)
    dets = Detections(np.array([[960, 600, 1400, 900]], np.float32), np.array([0.8]), np.array([2]))
    frame = compose_frame(image, np.zeros((0, 4)), dets, ["a", "b", "car"], ["x", "y"], (960, 600))
    band = frame.shape[0] - 600
    assert frame.shape[1] == 960 and frame.shape[0] % 2 == 0
    # the box lands at half its coordinates: its right edge at x=700, nothing drawn at x=800
    assert (frame[band + 400, 698:703] != 90).any() and (frame[band + 400, 780:820] == 90).all()


def test_clear_errors(run, tmp_path, capsys):
    root, annotations, run_dir, *_ = run
    assert run_command(render_main, ["--log", str(run_dir), "--annotations", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert "nope.json" in err and len(err.strip().splitlines()) == 1
    other = json.loads(annotations.read_text())
    other["categories"], other["coco_mapping"] = other["categories"][:3], [80] * 80
    other["annotations"] = [a for a in other["annotations"] if a["category_id"] in {c["id"] for c in other["categories"]}]
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "val.json").write_text(json.dumps(other))
    assert run_command(render_main, ["--log", str(run_dir), "--annotations", str(tmp_path / "annotations" / "val.json"),
                 "--data", str(root)]) == 2
    assert "classes" in capsys.readouterr().err


def test_low_score_boxes_are_not_drawn() -> None:
    image = np.full((100, 160, 3), 90, np.uint8)
    low = Detections(np.array([[20, 20, 80, 80]], np.float32), np.array([0.05]), np.array([2]))
    high = Detections(low.boxes, np.array([0.9]), low.labels)
    plain = compose_frame(image, np.zeros((0, 4)), Detections.empty(), ARGOVERSE_HD_CLASSES, ["a", "b"], (160, 100))
    with_low = compose_frame(image, np.zeros((0, 4)), low, ARGOVERSE_HD_CLASSES, ["a", "b"], (160, 100))
    with_high = compose_frame(image, np.zeros((0, 4)), high, ARGOVERSE_HD_CLASSES, ["a", "b"], (160, 100))
    assert np.array_equal(plain, with_low)
    assert not np.array_equal(plain, with_high)
