"""The synthetic world: Argoverse-HD layout that the reader accepts, sane boxes and tracks,
byte-for-byte determinism, the CLI, previews and videos."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from data.argoverse import ArgoverseHD
from data.boxes import iou_matrix
from data.classes import ARGOVERSE_HD_CLASSES, COCO_TO_ARGOVERSE_HD
from data.synthetic import generate_world, split_sequences
from data.synthetic.render import SequenceRenderer
from data.synthetic.world import IGNORE_BELOW_PX

ARGS = dict(sequences=2, frames=8, size=(320, 200), seed=3, val_fraction=0.5, progress=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("world")
    summary = generate_world(root / "w", preview_dir=root / "preview", **ARGS)
    return root, summary


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip_through_the_reader(world):
    root, summary = world
    out = root / "w"
    seen_tracks: dict[int, set[int]] = defaultdict(set)
    total_boxes = 0
    for split in ("train", "val"):
        path = out / "annotations" / f"{split}.json"
        doc = json.loads(path.read_text())
        assert set(doc) >= {"images", "annotations", "categories", "sequences", "seq_dirs", "coco_mapping"}
        assert doc["coco_mapping"] == list(COCO_TO_ARGOVERSE_HD)
        assert set(doc["images"][0]) == {"id", "sid", "fid", "name", "width", "height"}
        ds = ArgoverseHD(path, out)  # checks every image file exists
        assert ds.classes == ARGOVERSE_HD_CLASSES and len(ds.sequences) == 1 and len(ds) == 8
        seq = ds.sequences[0]
        assert seq.directory == out / split / seq.name / "ring_front_center"
        assert [f.fid for f in seq.frames] == list(range(8))
        assert [f.path.name for f in seq.frames] == [f"{i:06d}.jpg" for i in range(8)]
        np.testing.assert_allclose([f.t for f in seq.frames], np.arange(8) / 30.0)
        previous: dict[int, np.ndarray] = {}
        ious = []
        for frame in seq.frames:
            gt = ds.ground_truth(frame.image_id)
            total_boxes += len(gt)
            b = gt.boxes
            assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0) and np.all(b[:, 2] <= 320) and np.all(b[:, 3] <= 200)
            assert np.all(b[:, 2] - b[:, 0] >= IGNORE_BELOW_PX) and np.all(b[:, 3] - b[:, 1] >= IGNORE_BELOW_PX)
            assert np.all(gt.track_ids >= 0) and len(set(gt.track_ids.tolist())) == len(gt)
            for box, label, track in zip(b, gt.labels, gt.track_ids):
                seen_tracks[int(track)].add(int(label))
                if int(track) in previous:
                    ious.append(iou_matrix(box[None], previous[int(track)][None])[0, 0])
            previous = {int(t): box for t, box in zip(gt.track_ids, b)}
        # Objects persist and move smoothly from one frame (1/30 s) to the next.
        assert len(ious) > 20 and np.median(ious) > 0.7
    assert all(len(labels) == 1 for labels in seen_tracks.values())  # a track never changes class
    assert sum(summary["objects"].values()) == total_boxes > 0
    sizes = summary["box_sizes"]
    assert sizes["boxes"] - sizes["ignored"] == total_boxes and sizes["shorter_side_px"]["p50"] > 0
    anns = [a for split in ("train", "val")
            for a in json.loads((out / "annotations" / f"{split}.json").read_text())["annotations"]]
    # Sub-pixel boxes, as in Argoverse-HD; the tiny ones are ignore regions, not dropped.
    assert any(v != round(v) for a in anns for v in a["bbox"])
    assert all(a["iscrowd"] == int(min(a["bbox"][2:]) < IGNORE_BELOW_PX) for a in anns)
    assert sum(a["iscrowd"] for a in anns) == sizes["ignored"]
    assert summary["frames"] == 16 and len(summary["sequences"]["val"]) == 1
    assert len(list((root / "preview").glob("*.png"))) == 6  # first, middle and last frame of each


def test_unoccluded_boxes_move_smoothly():
    """Sub-pixel boxes: an unoccluded object's edges change velocity far less than they move,
    so its motion can be forecast (whole-pixel boxes jitter by a pixel a frame instead)."""
    renderer = SequenceRenderer(np.random.default_rng([5, 0]), (480, 300), 2.0, track_base=0)
    history: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for fid in range(45):
        if fid:
            renderer.advance()
        for _, track, box, visible in renderer.render()[1]:
            if visible == 1.0 and min(box[2] - box[0], box[3] - box[1]) >= IGNORE_BELOW_PX:
                history[track].append((fid, np.asarray(box)))
    speed, accel = [], []
    for seen in history.values():
        for (f0, b0), (f1, b1), (f2, b2) in zip(seen, seen[1:], seen[2:]):
            if f2 - f0 == 2:  # three consecutive frames
                speed.append(np.abs(b2 - b1))
                accel.append(np.abs(b2 - 2 * b1 + b0))
    speed, accel = np.concatenate(speed), np.concatenate(accel)
    assert speed.size > 200
    assert np.median(accel) < 0.3 * np.median(speed) and np.median(accel) < 0.25
    assert np.mean(accel < 0.5) > 0.8


def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    root, _ = world
    first = _files(root / "w")
    generate_world(tmp_path / "again", **ARGS)
    assert _files(tmp_path / "again") == first
    generate_world(tmp_path / "other", **dict(ARGS, seed=4))
    other = _files(tmp_path / "other")
    assert other.keys() != first.keys()  # sequence names carry the seed
    train = json.loads(other["annotations/train.json"])
    assert train["annotations"] != json.loads(first["annotations/train.json"])["annotations"]


def test_split_is_deterministic_and_keeps_both_sides():
    assert split_sequences(4, 0.25, seed=0).count("val") == 1
    assert sorted(split_sequences(2, 0.25, seed=0)) == ["train", "val"]
    assert split_sequences(1, 0.25, seed=0) == ["train"]
    assert split_sequences(3, 0.0, seed=0) == ["train"] * 3
    assert split_sequences(10, 0.3, seed=7) == split_sequences(10, 0.3, seed=7)
    with pytest.raises(ValueError, match="val_fraction"):
        split_sequences(3, 1.5, seed=0)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least one sequence"):
        generate_world(tmp_path, sequences=0, frames=3, seed=0)
    with pytest.raises(ValueError, match="too small"):
        generate_world(tmp_path, sequences=1, frames=3, size=(30, 20), seed=0)
    with pytest.raises(ValueError, match="even frame size"):
        generate_world(tmp_path, sequences=1, frames=3, size=(161, 100), seed=0, video=True)


def test_video_matches_the_frames(tmp_path):
    from data.video import VideoSource

    summary = generate_world(tmp_path, sequences=1, frames=6, size=(160, 96), seed=2, video=True, progress=False)
    name = summary["sequences"]["train"][0]
    source = VideoSource(tmp_path / "videos" / f"{name}.mp4")
    assert source.size == (160, 96) and len(list(source)) == 6


def test_cli(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "data.synthetic", "--out", str(tmp_path / "cli"), "--sequences", "1", "--frames", "2",
         "--size", "96x64", "--seed", "1", "--quiet"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "traffic_light" in run.stdout and "box shorter side (px)" in run.stdout
    assert (tmp_path / "cli" / "annotations" / "train.json").is_file()
    assert json.loads((tmp_path / "cli" / "world.json").read_text())["arguments"]["size"] == [96, 64]
    bad = subprocess.run([sys.executable, "-m", "data.synthetic", "--out", str(tmp_path / "x"), "--size", "96by64"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "size must look like 1920x1200" in bad.stderr
