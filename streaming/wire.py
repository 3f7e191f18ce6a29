"""The live-frame wire format and its validation: nothing a sender writes may crash or stall us.

One multipart message per frame:
    [header: UTF-8 JSON {"t": capture_time_s, "frame_index": i, "shape": [H, W, 3],
                         "dtype": "uint8", "encoding": "raw" | "jpeg" | "png"},
     payload: raw pixel bytes (BGR, row-major) or a JPEG / PNG file]
An end-of-stream message is a single part {"eos": true}.

Every check runs on Python ints before anything is allocated: the header is at most
MAX_HEADER_BYTES, the shape's product is compared with MAX_PIXELS (numpy's int64 product of
[7, 7905747460161236407, 3] overflows to a small number; Python's does not), and a compressed
payload's own width and height are read from its JPEG SOF marker or PNG IHDR chunk and must
equal the header's before the decoder sees it (a 700-byte JPEG can declare 30000 x 30000).
A rejected message raises MalformedMessage with a short `reason` key, which receivers count.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

ENCODINGS = ("raw", "jpeg", "png")
MAX_SIDE = 8192
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # per frame (H * W); 8192 x 8192 x 3 = 201 MB of pixels
MAX_HEADER_BYTES = 4096  # a real header is ~100 bytes; also bounds JSON nesting depth
MAX_FRAME_INDEX = 2**40  # 1160 years at 30 FPS; beyond it an index is an attack, not a camera
# Slack for a compressed payload over the raw size: a tiny image's JPEG headers (~600 bytes).
_COMPRESSED_SLACK = 65536
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); not C4/C8/CC.
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class MalformedMessage(ValueError):
    """A message the receiver skips; `reason` is the key it is counted under."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def encode_frame(image: np.ndarray, *, t: float, frame_index: int, encoding: str = "raw",
                 jpeg_quality: int = 90) -> list[bytes]:
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"frames must be HxWx3 uint8 BGR, got {image.shape} {image.dtype}")
    if encoding == "raw":
        payload = image.tobytes()
    elif encoding in ("jpeg", "png"):
        import cv2

        params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)] if encoding == "jpeg" else []
        ok, buf = cv2.imencode(".jpg" if encoding == "jpeg" else ".png", image, params)
        if not ok:
            raise ValueError(f"{encoding} encoding failed")
        payload = buf.tobytes()
    else:
        raise ValueError(f"unknown encoding {encoding!r}: use one of {ENCODINGS}")
    header = {"t": float(t), "frame_index": int(frame_index), "shape": list(image.shape),
              "dtype": "uint8", "encoding": encoding}
    return [json.dumps(header).encode(), payload]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_header(parts: list[bytes]) -> dict:
    """Validate a message's header (cheap: no pixel decoding). {"eos": True} ends the stream."""
    if not parts:
        raise MalformedMessage("part_count", "empty message")
    if len(parts[0]) > MAX_HEADER_BYTES:
        raise MalformedMessage("header_too_long", f"header has {len(parts[0])} bytes (at most {MAX_HEADER_BYTES})")
    try:
        header = json.loads(parts[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: also over-long int literals
        raise MalformedMessage("not_json", "header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise MalformedMessage("not_object", "header is not a JSON object")
    if header.get("eos") is True and len(parts) == 1:
        return header
    if len(parts) != 2:
        raise MalformedMessage("part_count", f"expected 2 message parts (header, payload), got {len(parts)}")
    t, index, shape = header.get("t"), header.get("frame_index"), header.get("shape")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t < 0:
        raise MalformedMessage("bad_time", f"header 't' must be a finite number >= 0, got {t!r}")
    if not _is_int(index) or not 0 <= index <= MAX_FRAME_INDEX:
        raise MalformedMessage("bad_index", f"header 'frame_index' must be an integer in [0, 2**40], got {index!r}")
    if not isinstance(shape, list) or len(shape) != 3 or not all(_is_int(s) and s > 0 for s in shape) or shape[2] != 3:
        raise MalformedMessage("bad_shape", "header 'shape' must be [H, W, 3] with positive integers")
    if shape[0] > MAX_SIDE or shape[1] > MAX_SIDE or shape[0] * shape[1] > MAX_PIXELS:
        raise MalformedMessage("too_large", f"frame {shape[0]}x{shape[1]} exceeds {MAX_SIDE}x{MAX_SIDE}")
    if header.get("dtype") != "uint8":
        raise MalformedMessage("bad_dtype", f"unsupported dtype {header.get('dtype')!r} (only uint8)")
    if header.get("encoding") not in ENCODINGS:
        raise MalformedMessage("bad_encoding", f"unknown encoding {header.get('encoding')!r}")
    return header


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(height, width) from a JPEG's start-of-frame segment, without decoding."""
    if data[:2] != b"\xff\xd8":
        raise MalformedMessage("image_header", "payload is not a JPEG (no SOI marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise MalformedMessage("image_header", f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # standalone markers carry no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise MalformedMessage("image_header", f"JPEG segment length {length} at byte {pos}")
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return height, width
        pos += 2 + length
    raise MalformedMessage("image_header", "JPEG has no frame header (SOF) before its image data")


def png_size(data: bytes) -> tuple[int, int]:
    """(height, width) from a PNG's IHDR chunk, without decoding."""
    if data[:8] != _PNG_SIGNATURE or len(data) < 24 or data[12:16] != b"IHDR":
        raise MalformedMessage("image_header", "payload is not a PNG (no signature and IHDR)")
    width, height = struct.unpack_from(">II", data, 16)
    return height, width


def check_payload(header: dict, payload: bytes) -> None:
    """The cheap payload checks, done for every message before it counts as a frame."""
    h, w, c = header["shape"]
    need = h * w * c  # Python ints: exact
    if header["encoding"] == "raw":
        if len(payload) != need:
            raise MalformedMessage("payload_size", f"raw payload has {len(payload)} bytes, shape {header['shape']} needs {need}")
        return
    if len(payload) > need + _COMPRESSED_SLACK:
        raise MalformedMessage("payload_size", f"{header['encoding']} payload of {len(payload)} bytes for a {h}x{w} frame")
    size = jpeg_size(payload) if header["encoding"] == "jpeg" else png_size(payload)
    if size != (h, w):
        raise MalformedMessage("image_size", f"{header['encoding']} is {size[0]}x{size[1]}, header says {h}x{w}")


# Kept under its old name: callers check sizes without caring how deep the check goes.
check_payload_size = check_payload


def decode_payload(header: dict, payload: bytes) -> np.ndarray:
    """Pixels of a message whose header passed parse_header (the payload is checked here too)."""
    shape = tuple(header["shape"])
    check_payload(header, payload)
    if header["encoding"] == "raw":
        return np.frombuffer(payload, dtype=np.uint8).reshape(shape)
    import cv2

    # EXIF orientation is ignored: it would transpose the image behind the size check's back.
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.frombuffer(payload, dtype=np.uint8), flags)
    if image is None:
        raise MalformedMessage("decode_failed", f"{header['encoding'].upper()} payload does not decode")
    if image.shape != shape:
        raise MalformedMessage("image_size", f"image decodes to {list(image.shape)}, header says {list(shape)}")
    return image
