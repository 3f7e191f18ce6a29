"""The model zoo: official YOLOX configurations and release weights, and where weights are cached.

Downloads go to a temporary file beside the target and are renamed into place only when they
are complete and, when the table pins one, match its SHA-256: an interrupted or tampered download
never becomes the cached weights a later run trusts. Cached files are not re-hashed on every load
(a 400 MB checkpoint would cost a second); they were checked when they were written.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

RELEASE = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    depth: float
    width: float
    input_size: tuple[int, int]  # (H, W) the model was trained and benchmarked at
    depthwise: bool = False
    act: str = "silu"
    url: str | None = None
    legacy: bool = False  # True for the 0.1.0 weights trained on normalised RGB input
    arch: str = "yolox"  # "yolox" (CSPDarknet + PAFPN) or "yolov3" (Darknet-53 + FPN)
    # SHA-256 of the release file. None for all of them until someone fills them in from the
    # official release (this project was written offline and could not compute them); a
    # download without one prints the hash it got, to be checked and pinned here.
    sha256: str | None = None


MODEL_ZOO: dict[str, ModelSpec] = {
    "yolox_nano": ModelSpec("yolox_nano", 0.33, 0.25, (416, 416), depthwise=True, url=f"{RELEASE}/yolox_nano.pth"),
    "yolox_tiny": ModelSpec("yolox_tiny", 0.33, 0.375, (416, 416), url=f"{RELEASE}/yolox_tiny.pth"),
    "yolox_s": ModelSpec("yolox_s", 0.33, 0.50, (640, 640), url=f"{RELEASE}/yolox_s.pth"),
    "yolox_m": ModelSpec("yolox_m", 0.67, 0.75, (640, 640), url=f"{RELEASE}/yolox_m.pth"),
    "yolox_l": ModelSpec("yolox_l", 1.0, 1.0, (640, 640), url=f"{RELEASE}/yolox_l.pth"),
    "yolox_x": ModelSpec("yolox_x", 1.33, 1.25, (640, 640), url=f"{RELEASE}/yolox_x.pth"),
    "yolov3": ModelSpec("yolov3", 1.0, 1.0, (640, 640), act="lrelu", url=f"{RELEASE}/yolox_darknet.pth",
                        arch="yolov3"),
}


class WeightsUnavailable(FileNotFoundError):
    pass


class WeightsChecksumError(ValueError):
    """A download whose SHA-256 differs from the pinned one (corrupt, truncated or not the release)."""


def cache_dir() -> Path:
    """Where named weights are downloaded to: $YOLOX_STREAMING_CACHE, else ~/.cache/yolox-streaming."""
    env = os.environ.get("YOLOX_STREAMING_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yolox-streaming"


def get_spec(name: str) -> ModelSpec:
    if name not in MODEL_ZOO:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODEL_ZOO)}")
    return MODEL_ZOO[name]


def resolve_weights(name: str, *, download: bool = True, timeout: float = 20.0) -> Path:
    """Path of the official weights for a zoo name, downloading them once when online."""
    spec = get_spec(name)
    target = cache_dir() / Path(spec.url or f"{name}.pth").name
    if target.is_file():
        return target
    hint = f"download {spec.url} and put it at {target} (or pass the .pth path directly)"
    if not download or spec.url is None:
        raise WeightsUnavailable(f"{name}: weights not found at {target}; {hint}")
    try:
        return download_weights(spec.url, target, sha256=spec.sha256, timeout=timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise WeightsUnavailable(f"{name}: could not download weights ({e}); {hint}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_weights(url: str, target: Path, *, sha256: str | None = None, timeout: float = 20.0) -> Path:
    """Download `url` to `target` atomically, checking `sha256` when given (see the module docstring)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # unique per download, in the target's folder so that the final rename is atomic
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    try:
        _download(url, partial, timeout=timeout)
        got = sha256_of(partial)
        if sha256 is not None and got != sha256.lower():
            raise WeightsChecksumError(f"{url}: SHA-256 mismatch, expected {sha256.lower()} but downloaded {got}; "
                                       "not using it")
        if sha256 is None:
            print(f"warning: {url}: no pinned SHA-256 to check it against (see detector/zoo.py); "
                  f"downloaded file has SHA-256 {got}", file=sys.stderr)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _download(url: str, dest: Path, *, timeout: float) -> None:
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
