"""Videos of what a streaming run believed: `python -m eval_streaming.render`.

    python -m eval_streaming.render --log RUN_DIR --annotations FILE [--data ROOT]
        [--forecast none|kalman|bytetrack] [--eta 0] [--out DIR] [--max-sequences N]
    python -m eval_streaming.render --log RUN_DIR [--data VIDEO]     # footage or a live run

Without --annotations the frames come from footage, with no ground truth drawn: --data VIDEO
(a video file or image folder), else the run's recording (streaming.live --record writes
RUN_DIR/recording.mp4, whose sidecar maps the live log's frame indices to recorded frames),
else the footage the run's config.yaml streamed (streaming.run --data VIDEO).

One MP4 per sequence at the stream's fps (default RUN_DIR/videos/<sequence>.mp4). Frame j shows
the image with its ground truth (thin grey boxes) and, in class colours with scores, the
prediction frame j is scored with: the latest output finished by t_j, forecast to t_j when a
forecaster is on. The header says where the shown boxes come from ("showing frame 41 (3
behind)" or "no output yet") and whether frame j itself was processed or dropped. Images come
from --data, else the run's config.yaml, else the annotation folder's parent. Unreadable images
are skipped and counted. `python -m streaming.run --video` renders the run it just made.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from data.argoverse import ArgoverseHD
from data.cli import run_command
from data.detections import Detections
from data.video_dataset import FootageDataset, is_footage, open_footage, read_sidecar
from detector.draw import draw_detections
from eval_streaming.pairing import Pairing
from streaming.log import StreamLog, read_logs
from streaming.scheduler import check_eta
from streaming.run_folder import check_run_complete
from trackers import FORECAST_METHODS

MAX_WIDTH = 960  # wider frames are scaled down: a 1920x1200 video would be needlessly large
GT_COLOUR = (200, 200, 200)  # BGR light grey: visible on dark and bright scenes, no class colour
_FONT = cv2.FONT_HERSHEY_SIMPLEX
HEADER_LINES = 2  # "sequence, frame, t, processed/dropped" and "which output is shown"
# Runs keep boxes down to conf 0.01 for AP; drawing those would bury the picture.
MIN_SCORE = 0.3


@dataclass
class RenderedVideo:
    sequence: str
    path: Path | None  # None when no frame of the sequence could be read
    frames: int = 0
    skipped: list[str] = field(default_factory=list)


def video_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """(W, H) of the video image: at most max_width wide, aspect kept, both even (yuv420p)."""
    scale = min(1.0, max_width / width)
    return max(2, int(width * scale) // 2 * 2), max(2, int(round(height * scale)) // 2 * 2)



def _header_layout(width: int) -> tuple[float, int, int]:
    """Font scale, text line height and (even) header band height for a video `width` wide."""
    scale = max(0.4, width / 1600)
    (_, th), base = cv2.getTextSize("Ag", _FONT, scale, 1)
    line_h = th + base + 6
    return scale, line_h, (line_h * HEADER_LINES + 3) // 2 * 2


def caption(log: StreamLog, pairing: Pairing, j: int, *, processed: bool, forecast: str = "none",
            eta: float = 0.0) -> list[str]:
    """The two header lines of frame j."""
    t = (j - eta) / log.fps  # the query time of frame j (the sAP toolkit's sign)
    first = f"{log.sequence}  frame {j}  t={t:.3f}s  {'processed' if processed else 'dropped'}"
    source = int(pairing.source_frame[j])
    if source < 0:
        return [first, "no output yet"]
    second = f"showing frame {source} ({int(pairing.frames_behind[j])} behind)"
    if forecast != "none":
        second += f", {forecast} forecast to frame {j}"
    return [first, second]


def compose_frame(image: np.ndarray, ground_truth: np.ndarray, prediction: Detections, classes: Sequence[str],
                  lines: Sequence[str], size: tuple[int, int], min_score: float = MIN_SCORE) -> np.ndarray:
    """Header band above the image resized to `size`, with ground truth and the prediction's
    boxes scoring at least `min_score` drawn."""
    h, w = image.shape[:2]
    out_w, out_h = size
    scale = np.array([out_w / w, out_h / h, out_w / w, out_h / h], np.float32)
    canvas = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA) if (w, h) != (out_w, out_h) \
        else image.copy()
    for x1, y1, x2, y2 in np.round(np.asarray(ground_truth, np.float32).reshape(-1, 4) * scale).astype(int):
        cv2.rectangle(canvas, (int(x1), int(y1)), (int(x2), int(y2)), GT_COLOUR, 1, cv2.LINE_AA)
    prediction = prediction.select(prediction.scores >= min_score)
    if len(prediction):
        canvas = draw_detections(canvas, Detections(prediction.boxes * scale, prediction.scores,
                                                    prediction.labels), classes)
    font_scale, line_h, band_h = _header_layout(out_w)
    band = np.zeros((band_h, out_w, 3), np.uint8)
    for k, text in enumerate(lines[:HEADER_LINES]):
        cv2.putText(band, text, (4, (k + 1) * line_h - 5), _FONT, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([band, canvas])


def render_sequence(log: StreamLog, pairing: Pairing, frames: Sequence[Path] | Callable[[int], np.ndarray],
                    ground_truth: Callable[[int], np.ndarray], path: str | Path, *, forecast: str = "none",
                    eta: float = 0.0, max_width: int = MAX_WIDTH, min_score: float = MIN_SCORE,
                    progress: bool = True) -> RenderedVideo:
    """Write one sequence's video; `frames` are the image files or a loader of frame j (footage
    decodes a video), ground_truth(j) gives frame j's boxes (N, 4) xyxy pixels."""
    from tqdm import tqdm

    from data.coco import read_image
    from data.video import VideoWriter

    if callable(frames):
        load_frame = frames
    else:
        if len(frames) != pairing.num_frames:
            raise ValueError(f"stream log of {log.sequence!r}: {pairing.num_frames} frames paired "
                             f"but {len(frames)} images given")
        paths = list(frames)

        def load_frame(j: int) -> np.ndarray:
            return read_image(Path(paths[j]))

    processed = {o.frame_index for o in log.outputs}
    result = RenderedVideo(log.sequence, None)
    writer = None
    try:
        for j in tqdm(range(pairing.num_frames), desc=f"video {log.sequence}", unit="frame", leave=False,
                      disable=not progress):
            try:
                image = load_frame(j)
            except (OSError, ValueError) as e:  # missing or corrupt image: skip, count, go on
                result.skipped.append(f"frame {j}: {e}")
                continue
            if writer is None:
                # the first readable frame sets the video size; later ones are scaled to it
                size = video_size(image.shape[1], image.shape[0], max_width)
                result.path = Path(path)
                writer = VideoWriter(result.path, log.fps, (size[0], size[1] + _header_layout(size[0])[2]))
            lines = caption(log, pairing, j, processed=j in processed, forecast=forecast, eta=eta)
            writer.write(compose_frame(image, ground_truth(j), pairing.predictions[j], log.classes, lines, size,
                                       min_score))
            result.frames += 1
    finally:
        if writer is not None:
            writer.close()
    return result


def render_logs(logs: Sequence[StreamLog], pairings: Sequence[Pairing], dataset: ArgoverseHD, out: str | Path, *,
                forecast: str = "none", eta: float = 0.0, max_sequences: int = 0, max_width: int = MAX_WIDTH,
                min_score: float = MIN_SCORE, progress: bool = True) -> list[RenderedVideo]:
    """Videos of the first `max_sequences` logs (0 = all) into `out`; `dataset`'s sequences hold the logs' frames and (when it has annotations) their ground truth."""
    by_key = {(s.sid, s.name): s for s in dataset.sequences}
    videos = []
    for log, pairing in list(zip(logs, pairings))[: max_sequences or None]:
        seq = by_key.get((log.sid, log.sequence))
        if seq is None or len(seq.frames) < log.num_frames:
            raise ValueError(f"{dataset.annotation_file}: no sequence {log.sequence!r} (sid {log.sid}) "
                             f"with {log.num_frames} frames for its stream log")
        frames = seq.frames[: log.num_frames]
        if log.image_ids and log.image_ids != [f.image_id for f in frames]:
            raise ValueError(f"stream log of {log.sequence!r}: image ids differ from {dataset.annotation_file}")

        def boxes(j: int, frames=frames) -> np.ndarray:
            return dataset.ground_truth(frames[j].image_id).boxes if dataset.has_annotations else np.zeros((0, 4))

        source = dataset.frame_loader(seq) if hasattr(dataset, "frame_loader") else [f.path for f in frames]
        videos.append(render_sequence(log, pairing, source, boxes,
                                      Path(out) / f"{log.sequence}.mp4", forecast=forecast, eta=eta,
                                      max_width=max_width, min_score=min_score, progress=progress))
    return videos


def footage_of_run(data: str | None, run_dir: Path) -> FootageDataset:
    """The footage a run without annotations streamed (see the module docstring)."""
    if data:
        return open_footage(data)
    if (run_dir / "recording.mp4").is_file():
        return open_footage(run_dir / "recording.mp4")
    if (run_dir / "config.yaml").is_file():
        from data.config import load_config
        from streaming.config import StreamingConfig

        cfg = load_config(StreamingConfig, run_dir / "config.yaml")
        if cfg.data and is_footage(cfg.data):
            return open_footage(cfg.data, fps=None if cfg.fps_from_footage else cfg.fps, max_frames=cfg.max_frames)
    raise FileNotFoundError(f"{run_dir}: no recording.mp4 and no footage in config.yaml; pass --annotations FILE "
                            f"for a dataset run or --data VIDEO")


def footage_frames(log: StreamLog, footage: FootageDataset) -> Callable[[int], np.ndarray]:
    """Frame j of the log as an image: a live log's j is the sender's frame index, found through
    the recording's sidecar (a PUB feed may have lost frames); otherwise the footage's frame j."""
    if log.meta.get("mode") != "live":
        if len(footage.shown) < log.num_frames:
            raise ValueError(f"{footage.path}: {len(footage.shown)} frames, but the stream log of "
                             f"{log.sequence!r} has {log.num_frames}")
        return footage.frame_loader(footage.sequences[0])
    side = read_sidecar(footage.path)
    position = {int(f["index"]): k for k, f in enumerate(side["frames"])} if side else {}

    def load(j: int) -> np.ndarray:
        if side and j not in position:
            raise ValueError(f"{footage.path}: frame {j} of the live stream was not recorded")
        return footage.load_source(position.get(j, j))

    return load


def render_footage(logs: Sequence[StreamLog], pairings: Sequence[Pairing], footage: FootageDataset,
                   out: str | Path, *, forecast: str = "none", eta: float = 0.0, max_sequences: int = 0,
                   max_width: int = MAX_WIDTH, min_score: float = MIN_SCORE) -> list[RenderedVideo]:
    """Videos of logs made on footage or on a live feed: no ground truth to draw."""
    return [render_sequence(log, pairing, footage_frames(log, footage), lambda j: np.zeros((0, 4)),
                            Path(out) / f"{log.sequence}.mp4", forecast=forecast, eta=eta, max_width=max_width,
                            min_score=min_score)
            for log, pairing in list(zip(logs, pairings))[: max_sequences or None]]


def report_videos(videos: Sequence[RenderedVideo]) -> None:
    for v in videos:
        where = v.path if v.path is not None else "no video (no readable frame)"
        skipped = f", skipped {len(v.skipped)} unreadable (e.g. {v.skipped[0]})" if v.skipped else ""
        print(f"{v.sequence}: {v.frames} frames -> {where}{skipped}", file=sys.stderr)


def _image_root(data: str | None, run_dir: Path, annotations: Path) -> Path:
    if data:
        return Path(data)
    if (run_dir / "config.yaml").is_file():
        from data.config import ConfigError, load_config
        from streaming.config import StreamingConfig

        try:
            cfg = load_config(StreamingConfig, run_dir / "config.yaml")
        except (ConfigError, ValueError, OSError):
            cfg = None
        if cfg is not None:
            root = Path(cfg.synthetic.directory if cfg.data in ("", "synthetic") else cfg.data)
            if root.is_dir():
                return root
    return annotations.parent.parent  # DATA/annotations/val.json, as in the synthetic layout


def main(argv: Sequence[str] | None = None) -> int:
    """Bad input raises (run_command exits 2); 1 when no sequence had a readable frame."""
    from eval_streaming.evaluate import check_compatible, pair_logs, run_folder

    ap = argparse.ArgumentParser(prog="python -m eval_streaming.render", description=__doc__.split("\n")[0])
    ap.add_argument("--log", required=True, help="run folder, logs folder or one stream log file")
    ap.add_argument("--annotations", default=None,
                    help="Argoverse-HD style annotation JSON; without it: footage or a live run (no ground truth)")
    ap.add_argument("--data", default=None, help="image root (default: the run's config, else the annotation "
                    "folder's parent); without --annotations a video file or image folder")
    ap.add_argument("--forecast", default="none", choices=FORECAST_METHODS)
    ap.add_argument("--eta", type=float, default=0.0,
                    help="the sAP toolkit's --eta: frame j shows what was available at (j - eta) / fps")
    ap.add_argument("--out", default=None, help="video folder (default: RUN_DIR/videos)")
    ap.add_argument("--max-sequences", type=int, default=0, help="0 = all")
    ap.add_argument("--max-width", type=int, default=MAX_WIDTH)
    ap.add_argument("--min-score", type=float, default=MIN_SCORE, help="draw boxes scoring at least this")
    args = ap.parse_args(argv)
    try:
        check_eta(args.eta)
    except ValueError as e:
        raise ValueError(f"--eta: {e}") from None
    location = Path(args.log)
    run_dir = run_folder(location)
    check_run_complete(run_dir)  # an interrupted run's logs would render as if it were whole
    logs = read_logs(location)
    out = Path(args.out) if args.out else run_dir / "videos"
    if args.annotations is None:
        pairings = pair_logs(logs, eta=args.eta, forecast=args.forecast)
        videos = render_footage(logs, pairings, footage_of_run(args.data, run_dir), out, forecast=args.forecast,
                                eta=args.eta, max_sequences=args.max_sequences, max_width=args.max_width,
                                min_score=args.min_score)
        report_videos(videos)
        return 0 if any(v.path is not None for v in videos) else 1
    annotations = Path(args.annotations)
    if not annotations.is_file():
        raise FileNotFoundError(f"{annotations}: annotation file not found")
    root = _image_root(args.data, run_dir, annotations)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: image root not found (set --data)")
    # images are not checked up front: a missing one is skipped and counted like a corrupt one
    dataset = ArgoverseHD(annotations, root, check_images=False)
    check_compatible(logs, dataset)
    pairings = pair_logs(logs, eta=args.eta, forecast=args.forecast, annotations=dataset)
    videos = render_logs(logs, pairings, dataset, out,
                         forecast=args.forecast, eta=args.eta, max_sequences=args.max_sequences,
                         max_width=args.max_width, min_score=args.min_score)
    report_videos(videos)
    return 0 if any(v.path is not None for v in videos) else 1


if __name__ == "__main__":
    sys.exit(run_command(main))
