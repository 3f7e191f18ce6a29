"""Generate a synthetic world on disk in exact Argoverse-HD layout.

    out/annotations/train.json, out/annotations/val.json   (COCO + sequences, seq_dirs, coco_mapping)
    out/<split>/<sequence>/ring_front_center/000000.jpg ... (30 FPS frames)
    out/videos/<sequence>.mp4                               (with video=True)
    out/world.json                                          (the arguments and the summary)

The same arguments give the same bytes: every sequence draws from its own Generator seeded with
(seed, sequence index), JPEGs are written with fixed parameters and JSON with sorted keys.

Boxes are floats, the sub-pixel visible extent (data.synthetic.painter), like Argoverse-HD's.
Boxes whose shorter side is below `IGNORE_BELOW_PX` are written with `iscrowd: 1`: far too
small for a detector at this resolution (under one cell of YOLOX's finest, stride-8 grid), they
are ignore regions as in COCO (the reader leaves them out of the ground truth; COCOeval counts a
detection on one neither as a hit nor as a false positive, and missing one costs nothing).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from data.classes import ARGOVERSE_HD_CLASSES, COCO_TO_ARGOVERSE_HD, class_colour
from data.synthetic.render import FPS, SequenceRenderer

JPEG_QUALITY = 90
PREVIEWS_PER_SEQUENCE = 3
MAX_PREVIEWS = 24
TRACKS_PER_SEQUENCE = 1_000_000  # track ids are unique across the whole world
IGNORE_BELOW_PX = 6.0  # shorter box side (px) under which an object is an ignore region
_DECIMALS = 4  # box coordinates in the JSON: 1e-4 px is far below any rendering effect


def split_sequences(sequences: int, val_fraction: float, seed: int) -> list[str]:
    """'train' or 'val' per sequence; at least one of each when there are two or more sequences."""
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
    n_val = int(round(sequences * val_fraction))
    if sequences > 1 and 0.0 < val_fraction < 1.0:
        n_val = min(max(n_val, 1), sequences - 1)
    order = np.random.default_rng([seed, 0x5EED]).permutation(sequences)
    val = set(int(i) for i in order[:n_val])
    return ["val" if i in val else "train" for i in range(sequences)]


def _encode(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY, cv2.IMWRITE_JPEG_OPTIMIZE, 0,
                                           cv2.IMWRITE_JPEG_PROGRESSIVE, 0])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def draw_boxes(image: np.ndarray, boxes: list, classes: tuple[str, ...] = ARGOVERSE_HD_CLASSES) -> np.ndarray:
    """A copy of `image` with labelled boxes `(label, track, (x0, y0, x1, y1), ...)`."""
    out = image.copy()
    scale = max(0.35, image.shape[1] / 2400)
    for label, track, box, *_ in boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        colour = class_colour(label)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 1 if image.shape[1] < 1200 else 2)
        cv2.putText(out, f"{classes[label]} {track % TRACKS_PER_SEQUENCE}", (x0, max(10, y0 - 3)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return out


def box_size_summary(sides: list[float]) -> dict:
    """Distribution of the boxes' shorter sides (px): quantiles, COCO size bins, ignored count.

    COCO's bins are by area (small < 32^2, large > 96^2); a box's shorter side is what decides
    whether a detector can see it, so both are reported."""
    arr = np.asarray(sides, np.float64)
    kept = arr[arr >= IGNORE_BELOW_PX]
    quantiles = {f"p{q}": round(float(np.percentile(arr, q)), 2) if arr.size else None for q in (10, 25, 50, 75, 90)}
    return {
        "boxes": int(arr.size), "ignored": int(arr.size - kept.size), "ignore_below_px": IGNORE_BELOW_PX,
        "shorter_side_px": quantiles,
        "shorter_side_bins": {f"<{b}": int(np.count_nonzero(arr < b)) for b in (6, 12, 24, 48, 96)},
    }


def _empty_file(seed: int) -> dict:
    return {
        "info": {"description": "synthetic Argoverse-HD-style driving world (data.synthetic)", "seed": seed,
                 "fps": FPS},
        "categories": [{"id": i, "name": name} for i, name in enumerate(ARGOVERSE_HD_CLASSES)],
        "coco_mapping": list(COCO_TO_ARGOVERSE_HD),
        "sequences": [], "seq_dirs": [], "images": [], "annotations": [],
    }


def generate_world(out: str | Path, *, sequences: int, frames: int, size: tuple[int, int] = (1920, 1200),
                   seed: int, val_fraction: float = 0.25, video: bool = False, preview_dir: str | Path | None = None,
                   progress: bool = True) -> dict:
    """Render `sequences` x `frames` frames at `size` (W, H) into `out`; returns a summary dict."""
    width, height = (int(v) for v in size)
    if sequences < 1 or frames < 1:
        raise ValueError(f"need at least one sequence and one frame, got sequences={sequences} frames={frames}")
    if width < 64 or height < 48:
        raise ValueError(f"image size {width}x{height} is too small (min 64x48)")
    if video and (width % 2 or height % 2):
        raise ValueError(f"video needs an even frame size, got {width}x{height}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out)
    splits = split_sequences(sequences, val_fraction, seed)
    files = {"train": _empty_file(seed), "val": _empty_file(seed)}
    counts = {name: 0 for name in ARGOVERSE_HD_CLASSES}
    tracks: dict[str, set[int]] = {name: set() for name in ARGOVERSE_HD_CLASSES}
    previews = Path(preview_dir) if preview_dir is not None else None
    sides: list[float] = []  # shorter side of every annotated box, crowd ones included
    n_previews = 0
    started = time.perf_counter()
    bar = tqdm(total=sequences * frames, disable=not progress, unit="frame", desc="synthetic world")
    for i in range(sequences):
        split, name = splits[i], f"s{seed}_{i:03d}"
        doc = files[split]
        sid = len(doc["sequences"])
        seq_dir = f"{split}/{name}/ring_front_center"
        doc["sequences"].append(name)
        doc["seq_dirs"].append(seq_dir)
        (out / seq_dir).mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, i])
        renderer = SequenceRenderer(rng, (width, height), frames / FPS, track_base=(i + 1) * TRACKS_PER_SEQUENCE)
        writer = None
        if video:
            from data.video import VideoWriter

            writer = VideoWriter(out / "videos" / f"{name}.mp4", FPS, (width, height))
        preview_fids = {0, frames // 2, frames - 1} if previews is not None else set()
        try:
            for fid in range(frames):
                if fid:
                    renderer.advance()
                image, boxes = renderer.render()
                file_name = f"{fid:06d}.jpg"
                (out / seq_dir / file_name).write_bytes(_encode(image))
                image_id = len(doc["images"])
                doc["images"].append({"id": image_id, "sid": sid, "fid": fid, "name": file_name,
                                      "width": width, "height": height})
                for label, track, box, _ in boxes:
                    x0, y0 = round(box[0], _DECIMALS), round(box[1], _DECIMALS)
                    w, h = round(box[2] - x0, _DECIMALS), round(box[3] - y0, _DECIMALS)
                    crowd = int(min(w, h) < IGNORE_BELOW_PX)
                    doc["annotations"].append({
                        "id": len(doc["annotations"]) + 1,  # pycocotools treats id 0 as "no match"
                        "image_id": image_id, "category_id": label, "bbox": [x0, y0, w, h],
                        "area": round(w * h, _DECIMALS), "iscrowd": crowd, "track": track,
                    })
                    sides.append(min(w, h))
                    if crowd:
                        continue
                    counts[ARGOVERSE_HD_CLASSES[label]] += 1
                    tracks[ARGOVERSE_HD_CLASSES[label]].add(track)
                if writer is not None:
                    writer.write(image)
                if fid in preview_fids and n_previews < MAX_PREVIEWS:
                    previews.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(previews / f"{name}_{fid:06d}.png"), draw_boxes(image, boxes))
                    n_previews += 1
                bar.update(1)
        finally:
            if writer is not None:
                writer.close()
    bar.close()
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split, doc in files.items():
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        (out / "annotations" / f"{split}.json").write_text(text + "\n")
    summary = {
        "size": [width, height], "seed": seed, "fps": FPS,
        "sequences": {split: list(doc["sequences"]) for split, doc in files.items()},
        "frames": sequences * frames, "objects": counts,
        "tracks": {name: len(ids) for name, ids in tracks.items()},
        "box_sizes": box_size_summary(sides),
    }
    (out / "world.json").write_text(json.dumps(
        {"arguments": {"sequences": sequences, "frames": frames, "size": [width, height], "seed": seed,
                       "val_fraction": val_fraction, "video": video}, "summary": summary},
        sort_keys=True, indent=1) + "\n")
    # Written without the output path or timing, so that the same arguments give the same bytes.
    summary["out"] = str(out)
    summary["seconds"] = time.perf_counter() - started
    return summary
