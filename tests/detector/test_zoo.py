"""Weight downloads from a local HTTP server on 127.0.0.1: atomic, checked against a pinned SHA-256."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from detector.zoo import MODEL_ZOO, WeightsChecksumError, download_weights

PAYLOAD = b"pretend these are YOLOX weights\n" * 1000


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "yolox_nano.pth").write_bytes(PAYLOAD)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # quiet test output
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_pinned_hash_accepts_the_right_file(server, tmp_path, capsys):
    target = tmp_path / "cache" / "yolox_nano.pth"
    good = hashlib.sha256(PAYLOAD).hexdigest()
    assert download_weights(f"{server}/yolox_nano.pth", target, sha256=good.upper()) == target
    assert target.read_bytes() == PAYLOAD and "warning" not in capsys.readouterr().err
    assert sorted(p.name for p in target.parent.iterdir()) == ["yolox_nano.pth"]  # no temp file left


def test_mismatch_is_refused_and_keeps_nothing(server, tmp_path):
    target = tmp_path / "cache" / "yolox_nano.pth"
    wrong = "0" * 64
    with pytest.raises(WeightsChecksumError) as info:
        download_weights(f"{server}/yolox_nano.pth", target, sha256=wrong)
    message = str(info.value)
    assert wrong in message and hashlib.sha256(PAYLOAD).hexdigest() in message and "\n" not in message
    assert list(target.parent.iterdir()) == []  # neither the target nor a partial file


def test_unpinned_download_warns_with_its_hash_and_failures_leave_no_file(server, tmp_path, capsys):
    target = tmp_path / "cache" / "yolox_nano.pth"
    download_weights(f"{server}/yolox_nano.pth", target)
    assert f"SHA-256 {hashlib.sha256(PAYLOAD).hexdigest()}" in capsys.readouterr().err
    missing = tmp_path / "cache" / "other.pth"
    with pytest.raises(OSError):  # HTTP 404
        download_weights(f"{server}/other.pth", missing)
    assert sorted(p.name for p in target.parent.iterdir()) == ["yolox_nano.pth"]


def test_zoo_hashes_are_unpinned_or_well_formed():
    for spec in MODEL_ZOO.values():
        assert spec.sha256 is None or (len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0)
