"""The ablation's on-disk cache: every-frame pass shards and score rows, keyed by content hash.

    CACHE/passes/<key>/offline/<sequence>.jsonl   one shard's every-frame stream logs (streaming.log)
    CACHE/passes/<key>/shard.json                 its key, measured runtimes and a content digest
    CACHE/scores/<key>.json                       one scored point (or a pass's offline row)
    CACHE/profiles/<digest>.json                  a pass's runtime profile (streaming.latency format)
    CACHE/plots/<digest>/*.png                    the plots of one table (keyed by its rows), copied to --out

A shard's key hashes what determines its detections: the checkpoint's bytes, input size,
backend, precision, device, thresholds, the annotation file's bytes, the shard's sequences and
frame limit, and FORMAT_VERSION (bump it when a pass or a row changes meaning). A score key
hashes its passes' *content* digests (so a re-measured pass never meets stale scores), the point
and the pairing settings. Only the driver writes (tasks return their results), each entry into
a temporary name renamed into place, so an interrupted run leaves no half entry and a rerun
resumes from what is there. `stats` counts what was run and what was reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


def digest_of(value: Any) -> str:
    """SHA-256 of a JSON-serialisable value (sorted keys, so dict order does not matter)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    from detector.zoo import sha256_of

    path = Path(path)
    digest = sha256_of(path)
    companion = path.with_suffix(".bin")  # an OpenVINO .xml keeps its weights beside it
    if path.suffix.lower() == ".xml" and companion.is_file():
        digest = hashlib.sha256((digest + sha256_of(companion)).encode()).hexdigest()
    return digest


@dataclass
class CacheStats:
    shards_run: int = 0
    shards_cached: int = 0
    frames_run: int = 0  # detector calls of the shards run (the expensive work)
    scores_run: int = 0
    scores_cached: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ShardEntry:
    """A cached shard: its logs in sequence order, measured runtimes and content digest."""

    directory: Path
    log_files: list[Path]
    measured: list[float]
    digest: str


@dataclass
class AblationCache:
    root: Path
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # -- pass shards ------------------------------------------------------------------------
    def shard_dir(self, key: str) -> Path:
        return self.root / "passes" / key[:24]

    def load_shard(self, key: str) -> ShardEntry | None:
        """The cached shard, or None when absent (a damaged entry is dropped and recomputed)."""
        folder = self.shard_dir(key)
        try:
            meta = json.loads((folder / "shard.json").read_text())
            if meta["key"] != key:
                raise ValueError("key mismatch")
            files = [folder / "offline" / f"{name}.jsonl" for name in meta["sequences"]]
            if not all(f.is_file() for f in files):
                raise ValueError("missing log")
        except (OSError, ValueError, KeyError, TypeError):
            if folder.exists():
                shutil.rmtree(folder)
            return None
        return ShardEntry(folder, files, [float(r) for r in meta["measured"]], meta["digest"])

    def store_shard(self, key: str, key_data: dict, result: dict) -> ShardEntry:
        """Write a task's shard result ({"logs": {sequence: jsonl text}, "measured", ...})."""
        folder = self.shard_dir(key)
        tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "offline").mkdir(parents=True)
        names = list(result["logs"])
        for name in names:
            (tmp / "offline" / f"{name}.jsonl").write_text(result["logs"][name])
        digest = digest_of({"logs": result["logs"], "measured": result["measured"]})
        meta = {"key": key, "key_data": key_data, "sequences": names, "measured": result["measured"],
                "warmup": result.get("warmup", []), "digest": digest}
        (tmp / "shard.json").write_text(json.dumps(meta, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
        self.stats.shards_run += 1
        self.stats.frames_run += int(result.get("frames", 0))
        return self.load_shard(key)  # type: ignore[return-value]

    # -- profiles ---------------------------------------------------------------------------
    def write_profile(self, digest: str, measured: list[float], info: dict) -> Path:
        """A pass's runtime profile, readable by `--latency profile:FILE`."""
        path = self.root / "profiles" / f"{digest[:24]}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp-{os.getpid()}")
            tmp.write_text(json.dumps({"runtimes": measured, **info}, indent=1) + "\n")
            tmp.rename(path)
        return path

    # -- score rows -------------------------------------------------------------------------
    def score_path(self, key: str) -> Path:
        return self.root / "scores" / f"{key[:32]}.json"

    def load_score(self, key: str) -> dict | None:
        try:
            entry = json.loads(self.score_path(key).read_text())
            return entry["row"] if entry["key"] == key else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store_score(self, key: str, row: dict) -> None:
        path = self.score_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "row": row}, allow_nan=False) + "\n")
        tmp.rename(path)
        self.stats.scores_run += 1
