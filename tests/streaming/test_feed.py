"""Stream segments on hand-written timelines: restarts, index jumps, rejected orderings, feed rate."""
from __future__ import annotations

import pytest

from streaming.feed import MAX_INDEX_JUMP, FeedTracker
from streaming.wire import MalformedMessage


def test_one_segment_keeps_sender_indices_and_times():
    feed = FeedTracker(fps=10)
    assert [feed.admit(i, i / 10, None if i == 0 else i / 10) for i in range(5)] == [(i, i / 10) for i in range(5)]
    assert feed.num_segments == 1 and feed.feed_fps() == pytest.approx(10.0)


def test_restart_and_jump_continue_the_stream_index():
    feed = FeedTracker(fps=10)
    for i in range(5):
        feed.admit(i, i / 10, i / 10)
    # the sender restarts: index 0, its clock at 0 again; we are at stream time 0.9
    assert feed.admit(0, 0.0, 0.9) == (9, 0.9)  # frame_at(0.9) = 9, beyond the last index 4
    assert feed.admit(1, 0.1, 1.0) == (10, pytest.approx(1.0))
    # a jump far ahead (1e4+ frames) is a new segment, contiguous on the stream
    assert feed.admit(1 + MAX_INDEX_JUMP + 1, 0.2, 1.05) == (11, 1.05)
    assert [s.reason for s in feed.segments] == ["start", "restart", "index_jump"]
    meta = feed.meta()
    assert meta["num_segments"] == 3 and meta["segments"][1]["stream_index0"] == 9
    assert meta["feed_fps"] == pytest.approx((4 + 1) / (0.4 + 0.1))  # capture time only, per segment


def test_inconsistent_orderings_are_rejected_and_change_nothing():
    feed = FeedTracker(fps=30)
    feed.admit(5, 1.0, None)
    with pytest.raises(MalformedMessage) as e:
        feed.admit(4, 1.1, 1.1)  # index back, time forward: not a restart
    assert e.value.reason == "index_decreasing"
    with pytest.raises(MalformedMessage) as e:
        feed.admit(6, 0.9, 1.1)  # time back, index forward
    assert e.value.reason == "time_decreasing"
    assert feed.admit(6, 1.0 + 1 / 30, 1.1) == (6, pytest.approx(1.0 + 1 / 30)) and feed.num_segments == 1
    assert feed.admit(3, 0.5, 1.2)[0] == 36  # index and time back: restart at frame_at(1.2) = 36
