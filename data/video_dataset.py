"""A video file or an image folder as a one-sequence dataset without annotations.

`streaming.run --data VIDEO` streams any footage PyAV or OpenCV reads: a dashcam file, a folder
of images, or a recording of a live session (streaming/recorder.py). The dataset looks like an
Argoverse-HD reader to the run (one `Sequence`, the driving classes, image ids 0..n-1) but has no
annotations, so a run reports processed and dropped frames and latency, not AP.

Frame times: a video's presentation timestamps relative to its first frame; a recording's
sidecar JSON (`<video>.json`, written by the recorder) wins, since it holds the capture times as
sent, bit for bit; an image folder's file i is at i / fps. `fps` given: frame i at i / fps.

Variable frame rate is resampled, not carried through the simulator: the stream runs at the
median frame interval dt, source frame k lands in slot round(t_k / dt), and slot i shows the
latest source frame in a slot <= i. A constant-rate file maps one to one; a stall in the feed
repeats the previous frame (`repeated`), two frames in one slot keep the later (`merged`). The
scheduler, pairing and every log then keep the benchmark's rule "frame i arrives at i / fps".
"""
from __future__ import annotations

import json
from fractions import Fraction
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from data.argoverse import Frame, GroundTruth, Sequence as FrameSequence
from data.classes import ARGOVERSE_HD_CLASSES, COCO_TO_ARGOVERSE_HD
from data.video import IMAGE_SUFFIXES, ImageFolderSource, SourceError, VideoSource, open_source

RECORDING_SCHEMA = "yolox-streaming/recording"


def is_footage(path: str | Path) -> bool:
    """Whether `--data` names footage (a video file, or a folder holding images but no dataset)."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() not in (".json", ".yaml", ".yml")
    if not path.is_dir() or (path / "annotations").is_dir() or (path / "Argoverse-HD").is_dir():
        return False
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())


def sidecar_path(video: str | Path) -> Path:
    return Path(video).with_suffix(".json")


def read_sidecar(video: str | Path) -> dict | None:
    """The recorder's sidecar of `video`, or None when there is none (an ordinary video)."""
    path = sidecar_path(video)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != RECORDING_SCHEMA:
        return None
    return data


def median_fps(times_s: Sequence[float]) -> float | None:
    """The frame rate of frame times (median interval), None below two frames or without progress.

    Snapped to a small fraction: 1 / 0.04 in floats is 24.99999999999998, and a camera's rate is
    25 or 30000/1001, so the logs and the scheduler get the rate a person would write."""
    if len(times_s) < 2:
        return None
    dt = float(np.median(np.diff(np.asarray(times_s, np.float64))))
    return float(Fraction(1.0 / dt).limit_denominator(1001)) if dt > 0 else None


def resample_slots(times_s: Sequence[float]) -> tuple[float, list[int]]:
    """(fps, source frame shown in each slot) for frame times at the median interval (see module)."""
    times = np.asarray(times_s, np.float64) - (times_s[0] if len(times_s) else 0.0)
    if len(times) < 2:
        return 30.0, list(range(len(times)))
    rate = median_fps(times)
    if rate is None:
        raise SourceError("frame times do not increase: cannot derive a frame rate")
    slots = np.rint(times * rate).astype(np.int64)
    shown, k = [], 0
    for i in range(int(slots[-1]) + 1):
        while k + 1 < len(slots) and slots[k + 1] <= i:
            k += 1
        shown.append(k)
    return rate, shown


@dataclass
class _SequentialDecoder:
    """Frame k of a video by decoding forward; a request for an earlier frame restarts the file.

    Every pass of a run (offline, simulated, render) asks in increasing order, so each decodes
    the file once."""

    source: VideoSource
    _frames: Iterator | None = None
    _position: int = -1
    _current: np.ndarray | None = None

    def __call__(self, k: int) -> np.ndarray:
        if self._frames is None or k < self._position:
            self._frames, self._position, self._current = iter(self.source), -1, None
        while self._position < k:
            try:
                _, self._current = next(self._frames)
            except StopIteration:
                raise ValueError(f"{self.source.path}: frame {k} not decodable (the file ended)") from None
            self._position += 1
        assert self._current is not None
        return self._current


@dataclass
class FootageDataset:
    """One sequence of footage (see the module docstring); the interface of data.argoverse.ArgoverseHD
    a streaming run uses, with `has_annotations` False."""

    path: Path
    fps: float
    shown: list[int]  # slot i shows source frame shown[i]
    load_source: Callable[[int], np.ndarray]
    info: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # an image folder's files (empty for a video)
    classes: tuple[str, ...] = ARGOVERSE_HD_CLASSES
    coco_mapping: tuple[int, ...] = COCO_TO_ARGOVERSE_HD
    has_annotations: bool = False
    coco: None = None

    @property
    def annotation_file(self) -> Path:
        return self.path  # error messages name the footage

    @property
    def category_ids(self) -> list[int]:
        return list(range(len(self.classes)))

    @property
    def sequences(self) -> list[FrameSequence]:
        frame_path = (lambda k: self.files[k]) if self.files else (lambda k: self.path)
        frames = [Frame(image_id=i, fid=i, path=frame_path(k), t=i / self.fps) for i, k in enumerate(self.shown)]
        return [FrameSequence(sid=0, name=self.path.stem or "footage", directory=self.path.parent, frames=frames)]

    @property
    def image_ids(self) -> list[int]:
        return list(range(len(self.shown)))

    def frame_loader(self, seq: FrameSequence) -> Callable[[int], np.ndarray]:
        """Stream frame i (a slot) as a BGR image."""
        return lambda i: self.load_source(self.shown[i])

    @property
    def size_wh(self) -> tuple[int, int]:
        """(W, H) of the frames (read from the first one)."""
        h, w = self.load_source(0).shape[:2]
        return int(w), int(h)

    def ground_truth(self, image_id: int) -> GroundTruth:
        return GroundTruth(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))


def _video_times(source: VideoSource, limit: int) -> list[float]:
    times = []
    for t, _ in source:
        times.append(t)
        if limit and len(times) >= limit:
            break
    return times


def open_footage(path: str | Path, *, fps: float | None = None, max_frames: int = 0) -> FootageDataset:
    """Footage as a dataset: frame times from the file (or `fps`), resampled to a constant rate.

    `max_frames` (0 = all) stops reading times early, so a short test run does not decode a
    long file twice."""
    path = Path(path)
    source = open_source(path, fps)
    info: dict = {"source": str(path), "kind": "images" if isinstance(source, ImageFolderSource) else "video"}
    if isinstance(source, ImageFolderSource):
        from data.coco import read_image

        files = source.files[: max_frames or None]
        times = [i / source.fps for i in range(len(files))]
        load: Callable[[int], np.ndarray] = lambda k: read_image(files[k])
    else:
        files = []
        decoder = _SequentialDecoder(source)
        load = decoder
        times = _video_times(source, max_frames)
        sidecar = read_sidecar(path)
        recorded = [float(f["t"]) for f in sidecar.get("frames", [])] if sidecar else []
        if sidecar and len(recorded) >= len(times):
            times = [t - recorded[0] for t in recorded[: len(times)]]
            info["times"] = "recording sidecar (capture times)"
        else:
            info["times"] = "presentation timestamps"
        if fps is not None:
            times = [i / fps for i in range(len(times))]
    if not times:
        raise SourceError(f"{path}: no decodable frames")
    if fps is not None or isinstance(source, ImageFolderSource):
        rate, shown = float(source.fps if fps is None else fps), list(range(len(times)))
        info["times"] = f"constant {rate:g} FPS" + (" (--fps)" if fps is not None else " (image folder)")
    else:
        rate, shown = resample_slots(times)
    info.update(source_frames=len(times), fps=rate, frames=len(shown),
                repeated=len(shown) - len(set(shown)), merged=len(times) - len(set(shown)))
    if info["repeated"] or info["merged"]:
        info["resampled"] = f"variable frame rate resampled to {rate:.3f} FPS (median interval)"
    return FootageDataset(path, rate, shown, load, info, files=list(files))
