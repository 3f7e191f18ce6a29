"""Frame sources and an MP4 writer on PyAV.

Sources yield `(t_seconds, frame_bgr)`: a video's times come from its presentation timestamps, an
image folder's from the file order (t = i / fps). A frame that cannot be decoded is skipped and
counted in `.skipped` so that a long run keeps going; a missing or unreadable file is an error.
"""
from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# Give up on a file after this many undecodable packets in a row: it is not a video any more.
_MAX_CONSECUTIVE_ERRORS = 50


class SourceError(ValueError):
    """A frame source that exists but cannot be used; the message names the file."""


def _natural_key(path: Path) -> list:
    # "frame2" before "frame10", as a person would number them.
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


class VideoSource:
    """Frames of a video file with times in seconds from its timestamps (first frame at 0)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: video file not found")
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise SourceError(f"{self.path}: no video stream in the file")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                self.fps: float = float(rate) if rate else 30.0
                self.frame_count: int = int(stream.frames)  # 0 when the container does not say
                self.size: tuple[int, int] = (stream.codec_context.width, stream.codec_context.height)
        except av.error.FFmpegError as e:
            raise SourceError(f"{self.path}: cannot open as video ({e.__class__.__name__}: {e.strerror})") from None
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        self.skipped = 0
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            time_base = stream.time_base
            start = stream.start_time
            last_t = None
            errors_in_row = 0
            packets = container.demux(stream)
            while True:
                try:
                    packet = next(packets)
                    frames = packet.decode()
                except StopIteration:
                    break
                except av.error.FFmpegError:
                    # A broken packet: count it and move on; a demuxer error ends the generator.
                    self.skipped += 1
                    errors_in_row += 1
                    if errors_in_row >= _MAX_CONSECUTIVE_ERRORS:
                        break
                    continue
                errors_in_row = 0
                for frame in frames:
                    if frame.is_corrupt:
                        self.skipped += 1
                        continue
                    pts = frame.pts
                    if pts is None or time_base is None:
                        t = 0.0 if last_t is None else last_t + 1.0 / self.fps
                    else:
                        t = float((pts - (start or 0)) * time_base)
                    # Keep time strictly increasing even for files with repeated timestamps.
                    if last_t is not None and t <= last_t:
                        t = last_t + 1.0 / self.fps
                    last_t = t
                    yield t, frame.to_ndarray(format="bgr24")

    def __repr__(self) -> str:
        return f"VideoSource({str(self.path)!r}, fps={self.fps:g}, frames={self.frame_count})"


class ImageFolderSource:
    """Sorted image files of one folder as a stream at `fps`: file i is seen at t = i / fps."""

    def __init__(self, directory: str | Path, fps: float = 30.0) -> None:
        self.path = Path(directory)
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path}: image folder not found")
        if not fps > 0:
            raise ValueError(f"{self.path}: fps must be positive, got {fps!r}")
        self.fps = float(fps)
        self.files: list[Path] = sorted(
            (p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=_natural_key,
        )
        if not self.files:
            raise SourceError(f"{self.path}: no image files ({' '.join(IMAGE_SUFFIXES)}) in the folder")
        self.frame_count = len(self.files)
        self.skipped = 0

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        self.skipped = 0
        for i, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                continue
            yield i / self.fps, image

    def __repr__(self) -> str:
        return f"ImageFolderSource({str(self.path)!r}, fps={self.fps:g}, files={len(self.files)})"


def open_source(path: str | Path, fps: float | None = None) -> VideoSource | ImageFolderSource:
    """A folder of images (played at `fps`, default 30) or a video file (timed by its PTS)."""
    path = Path(path)
    if path.is_dir():
        return ImageFolderSource(path, fps if fps is not None else 30.0)
    if path.is_file():
        return VideoSource(path)
    raise FileNotFoundError(f"{path}: no such video file or image folder")


def default_codec() -> str:
    """libx264 when this FFmpeg build has it, else the always-present MPEG-4 part 2 encoder."""
    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # PyAV raises different types across versions for an unknown codec
        return "mpeg4"


# Time base of timestamped (variable frame rate) videos: MPEG's 90 kHz clock, 11 us resolution.
TIMED_TIME_BASE = Fraction(1, 90_000)


class VideoWriter:
    """Write BGR frames to an MP4; use as a context manager.

    By default frame k is shown at k / fps. With `timed`, every `write` takes the frame's own
    time in seconds (variable frame rate, as a live feed delivers it) and `fps` is only the
    nominal rate in the header. `lossless` stores the BGR pixels exactly (libx264rgb, crf 0):
    a recording that is replayed must give the detector the frames the live run saw.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], *, codec: str | None = None,
                 crf: int = 20, timed: bool = False, lossless: bool = False) -> None:
        self.path = Path(path)
        width, height = int(size[0]), int(size[1])
        if width <= 0 or height <= 0 or (not lossless and (width % 2 or height % 2)):
            raise ValueError(f"{self.path}: frame size must be positive and even for yuv420p, got {width}x{height}")
        if not fps > 0:
            raise ValueError(f"{self.path}: fps must be positive, got {fps!r}")
        self.size = (width, height)
        self.fps = float(fps)
        self.codec = codec or ("libx264rgb" if lossless else default_codec())
        self.timed = timed
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(self.path), mode="w")
        try:
            self._stream = self._container.add_stream(self.codec, rate=rate)
        except Exception:
            self._container.close()
            raise
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "bgr24" if lossless else "yuv420p"
        self._stream.codec_context.time_base = TIMED_TIME_BASE if timed else 1 / rate
        if timed:
            self._stream.time_base = TIMED_TIME_BASE
        if lossless:
            self._stream.options = {"crf": "0", "preset": "veryfast"}
        elif self.codec == "libx264":
            self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        else:
            self._stream.bit_rate = 8_000_000
        self.frames_written = 0
        self._last_pts = 0
        self._closed = False

    def write(self, frame_bgr: np.ndarray, t_s: float | None = None) -> None:
        """Append a frame; a timed writer needs its time `t_s` (seconds, increasing)."""
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        w, h = self.size
        if frame_bgr.dtype != np.uint8 or frame_bgr.shape != (h, w, 3):
            raise ValueError(
                f"{self.path}: expected a uint8 frame of shape {(h, w, 3)}, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_bgr), format="bgr24")
        if self.timed:
            if t_s is None:
                raise ValueError(f"{self.path}: a timed writer needs each frame's time t_s")
            pts = round(t_s / TIMED_TIME_BASE)
            if self.frames_written and pts <= self._last_pts:
                pts = self._last_pts + 1  # the container needs strictly increasing pts
            self._last_pts = pts
            frame.pts, frame.time_base = pts, TIMED_TIME_BASE
        else:
            frame.pts = self.frames_written
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
