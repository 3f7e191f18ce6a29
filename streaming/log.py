"""Stream log files: what a streaming run produced, one JSON-lines file per sequence.

Line 1 is a header object:
    {"schema": "yolox-streaming/stream-log", "version": 2, "sequence": name, "sid": int,
     "fps": float, "num_frames": int, "image_ids": [int, ...] (one per frame, or [] for a live
     stream without a dataset), "classes": [str, ...], "latency": spec, "policy": name,
     "timing": "exact" | "toolkit", "perf_factor": float, "seed": int, "meta": {...free-form...}}
Every further line is one detector output in completion order:
    {"t_start": s, "t_done": s, "frame_index": i, "runtime": s, "detections": Detections.to_dict()}
Floats are written with repr, so reading a log back gives the same numbers bit for bit and a
saved run re-scores exactly.

The same file can be written as it goes (`LogWriter`, for live runs): the header's
"num_frames" is then null, each output line is flushed when it is produced, and a last line
{"footer": {"num_frames": int, "meta": {...}}} completes the header. A log cut off by Ctrl-C,
SIGTERM or a crash has no footer (and maybe half a last line): it still reads, with num_frames
from its outputs and meta "complete": false, so at most the frame in flight is lost.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from data.detections import Detections
from streaming.scheduler import TIMING_MODES

SCHEMA = "yolox-streaming/stream-log"
VERSION = 2
# What changed at each version, for the message that refuses an older log.
_CHANGES = {1: "version 2 added the timing mode (exact | toolkit) and runs written since score eta with the "
               "sAP toolkit's sign (frame j is queried at (j - eta) / fps); re-run streaming.run to "
               "write a version-2 log"}
LOG_SUFFIX = ".jsonl"


class StreamLogError(ValueError):
    pass


@dataclass(frozen=True)
class StreamOutput:
    """One detector result: taken from frame `frame_index`, available from `t_done` on."""

    t_start: float
    t_done: float
    frame_index: int
    runtime: float
    detections: Detections


@dataclass
class StreamLog:
    sequence: str
    sid: int
    fps: float
    num_frames: int
    image_ids: list[int]
    classes: list[str]
    latency: str
    policy: str
    outputs: list[StreamOutput] = field(default_factory=list)
    perf_factor: float = 1.0
    seed: int = 0
    meta: dict = field(default_factory=dict)
    timing: str = "exact"  # streaming.scheduler.TIMING_MODES: how the timeline's times were computed

    @property
    def forecast_frames(self) -> int:
        """How many frames ahead of its input frame each output describes (meta; a learned
        forecaster such as StreamYOLO: 1; a plain detector: 0)."""
        return int(self.meta.get("forecast_frames", 0) or 0)

    def header(self) -> dict:
        return {
            "schema": SCHEMA, "version": VERSION, "sequence": self.sequence, "sid": self.sid,
            "fps": self.fps, "num_frames": self.num_frames, "image_ids": list(self.image_ids),
            "classes": list(self.classes), "latency": self.latency, "policy": self.policy,
            "timing": self.timing, "perf_factor": self.perf_factor, "seed": self.seed, "meta": self.meta,
        }


def write_log(log: StreamLog, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(log.header(), separators=(",", ":"))]
    lines += [_output_line(out) for out in log.outputs]
    path.write_text("\n".join(lines) + "\n")
    return path


def _output_line(out: StreamOutput) -> str:
    return json.dumps({
        "t_start": out.t_start, "t_done": out.t_done, "frame_index": out.frame_index,
        "runtime": out.runtime, "detections": out.detections.to_dict(),
    }, separators=(",", ":"))


class LogWriter:
    """A version-2 log written as the run goes: header now, one flushed line per output, footer
    at `close`. `log` gives the header fields; its num_frames is written as unknown (null)."""

    def __init__(self, log: StreamLog, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {**log.header(), "num_frames": None, "image_ids": []}
        self._file = self.path.open("w", encoding="utf-8")
        self._write(json.dumps(header, separators=(",", ":")))

    def _write(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()  # a crash loses at most the output in flight, not the buffer

    def write(self, out: StreamOutput) -> None:
        self._write(_output_line(out))

    def close(self, num_frames: int, meta: dict | None = None, *, fps: float | None = None) -> Path:
        """Write the footer and close; the log is complete only after this. `fps`: the feed's
        rate measured over the run, which replaces the header's nominal one."""
        if not self._file.closed:
            footer = {"num_frames": int(num_frames), "meta": meta or {}}
            if fps is not None:
                footer["fps"] = float(fps)
            self._write(json.dumps({"footer": footer}, separators=(",", ":")))
            self._file.close()
        return self.path


_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "sequence": (str,), "sid": (int,), "fps": (int, float), "num_frames": (int,),
    "image_ids": (list,), "classes": (list,), "latency": (str,), "policy": (str,),
    "timing": (str,), "perf_factor": (int, float), "seed": (int,), "meta": (dict,),
}


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _parse_header(obj: object, where: str) -> dict:
    if not isinstance(obj, dict) or obj.get("schema") != SCHEMA:
        raise StreamLogError(f"{where}: not a stream log (header must have schema {SCHEMA!r})")
    version = obj.get("version")
    if version != VERSION:
        why = f": {_CHANGES[version]}" if version in _CHANGES else ""
        raise StreamLogError(f"{where}: unsupported stream log version {version!r} (this reader knows {VERSION}){why}")
    for key, types in _HEADER_TYPES.items():
        if key not in obj:
            raise StreamLogError(f"{where}: header lacks {key!r}")
        value = obj[key]
        if key == "num_frames" and value is None:
            continue  # known from the footer, or from the outputs of a cut-off log
        if isinstance(value, bool) or not isinstance(value, types):
            raise StreamLogError(f"{where}: header {key!r} has wrong type {type(value).__name__}")
    if not obj["fps"] > 0 or (obj["num_frames"] or 0) < 0:
        raise StreamLogError(f"{where}: header needs fps > 0 and num_frames >= 0")
    ids = obj["image_ids"]
    if ids and (len(ids) != obj["num_frames"] or not all(isinstance(i, int) for i in ids)):
        raise StreamLogError(f"{where}: header image_ids must be num_frames integers (or empty)")
    if obj["timing"] not in TIMING_MODES:
        raise StreamLogError(f"{where}: header timing {obj['timing']!r} is not one of {', '.join(TIMING_MODES)}")
    if not all(isinstance(c, str) for c in obj["classes"]):
        raise StreamLogError(f"{where}: header classes must be strings")
    return obj


def _parse_output(obj: object, where: str, num_frames: int | None, num_classes: int) -> StreamOutput:
    if not isinstance(obj, dict):
        raise StreamLogError(f"{where}: expected an output object")
    for key in ("t_start", "t_done", "runtime"):
        if not _is_number(obj.get(key)):
            raise StreamLogError(f"{where}: {key!r} must be a finite number")
    index = obj.get("frame_index")
    limit = max(num_frames, 1) if num_frames is not None else float("inf")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < limit:
        raise StreamLogError(f"{where}: frame_index {index!r} out of range [0, {num_frames})")
    try:
        dets = Detections.from_dict(obj["detections"])
    except (KeyError, TypeError, ValueError) as e:
        raise StreamLogError(f"{where}: bad detections ({e.__class__.__name__}: {e})") from None
    if len(dets) and num_classes and (dets.labels.min() < 0 or dets.labels.max() >= num_classes):
        raise StreamLogError(f"{where}: detection label outside the {num_classes} classes")
    return StreamOutput(float(obj["t_start"]), float(obj["t_done"]), index, float(obj["runtime"]), dets)


def read_log(path: str | Path) -> StreamLog:
    """Read and validate a stream log; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: stream log not found")
    header: dict | None = None
    footer: dict | None = None
    outputs: list[StreamOutput] = []
    with path.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            if footer is not None:
                raise StreamLogError(f"{where}: line after the footer")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                streamed = header is not None and header["num_frames"] is None
                if streamed and not line.endswith("\n"):
                    break  # a streamed log cut off mid-line: the output in flight is lost
                raise StreamLogError(f"{where}: not valid JSON ({e.msg})") from None
            if header is None:
                header = _parse_header(obj, where)
                continue
            if header["num_frames"] is None and isinstance(obj, dict) and "footer" in obj:
                footer = _parse_footer(obj["footer"], where)
                continue
            out = _parse_output(obj, where, header["num_frames"], len(header["classes"]))
            if outputs and out.t_done < outputs[-1].t_done:
                raise StreamLogError(f"{where}: t_done goes back in time ({out.t_done} < {outputs[-1].t_done})")
            outputs.append(out)
    if header is None:
        raise StreamLogError(f"{path}: empty stream log (no header line)")
    num_frames, meta, fps = header["num_frames"], header["meta"], float(header["fps"])
    if header["num_frames"] is None:
        seen = max((o.frame_index for o in outputs), default=-1) + 1
        if footer is None:
            num_frames, meta = max(num_frames or 0, seen), {**meta, "complete": False}
        else:
            num_frames, meta = footer["num_frames"], {**meta, **footer["meta"], "complete": True}
            fps = float(footer.get("fps", fps))
            if seen > num_frames:
                raise StreamLogError(f"{path}: footer num_frames {num_frames} but an output has frame {seen - 1}")
    return StreamLog(
        sequence=header["sequence"], sid=header["sid"], fps=fps,
        num_frames=num_frames, image_ids=list(header["image_ids"]),
        classes=list(header["classes"]), latency=header["latency"], policy=header["policy"],
        outputs=outputs, perf_factor=float(header["perf_factor"]), seed=header["seed"],
        meta=meta, timing=header["timing"],
    )


def _parse_footer(obj: object, where: str) -> dict:
    if (not isinstance(obj, dict) or not isinstance(obj.get("num_frames"), int) or isinstance(obj["num_frames"], bool)
            or obj["num_frames"] < 0 or not isinstance(obj.get("meta"), dict)
            or ("fps" in obj and not (_is_number(obj["fps"]) and obj["fps"] > 0))):
        raise StreamLogError(f"{where}: footer must be {{\"num_frames\": int >= 0, \"meta\": {{...}}}}")
    return obj


def log_files(location: str | Path) -> list[Path]:
    """Stream logs at `location`: a log file, a folder of logs, or a run folder with logs/."""
    location = Path(location)
    if location.is_file():
        return [location]
    if not location.is_dir():
        raise FileNotFoundError(f"{location}: no such stream log or run folder")
    folder = location / "logs" if (location / "logs").is_dir() else location
    files = sorted(folder.glob(f"*{LOG_SUFFIX}"))
    if not files:
        raise FileNotFoundError(f"{folder}: no stream logs (*{LOG_SUFFIX}) found")
    return files


def read_logs(location: str | Path) -> list[StreamLog]:
    return [read_log(p) for p in log_files(location)]
