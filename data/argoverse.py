"""Argoverse-HD annotations: COCO JSON plus sequences, read into timestamped frame lists.

Format: the usual COCO keys plus top-level `sequences` (names), `seq_dirs` (directories relative
to the dataset root) and optionally `coco_mapping` (COCO's 80 classes -> these, 80 = dropped).
Images carry `sid` (index into `sequences`) and `fid` (frame index within the sequence); the
image file is `root/seq_dirs[sid]/name`. Annotations may carry `track`. `test-meta.json` has no
`annotations` key. Frames arrive at 30 FPS, so frame `fid` is seen at t = fid / fps.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.boxes import xywh_to_xyxy
from data.classes import ARGOVERSE_HD_CLASSES, COCO_CLASSES, COCO_TO_ARGOVERSE_HD
from data.coco import (
    AnnotationError,
    build_coco,
    check_annotations,
    check_categories,
    check_images as validate_images,
    load_json,
    require_keys,
)

__all__ = ["AnnotationError", "ArgoverseHD", "Frame", "GroundTruth", "Sequence"]

ARGOVERSE_FPS = 30.0


@dataclass(frozen=True)
class Frame:
    image_id: int
    fid: int
    path: Path
    t: float  # seconds since the start of the sequence: fid / fps


@dataclass(frozen=True)
class Sequence:
    sid: int
    name: str
    directory: Path
    frames: list[Frame]  # sorted by fid, fids 0..n-1

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class GroundTruth:
    boxes: np.ndarray  # (N, 4) float32 xyxy pixels
    labels: np.ndarray  # (N,) int64 indices into ArgoverseHD.classes
    track_ids: np.ndarray  # (N,) int64, -1 where the file has no track

    def __len__(self) -> int:
        return len(self.labels)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class ArgoverseHD:
    """An Argoverse-HD annotation file (train/val with boxes, or test-meta without)."""

    def __init__(self, annotation_file: str | Path, root: str | Path, check_images: bool = True) -> None:
        self.annotation_file = path = Path(annotation_file)
        self.root = Path(root)
        self.fps: float = ARGOVERSE_FPS
        data = load_json(path)
        require_keys(data, ("images", "categories", "sequences", "seq_dirs"), path, "the file")
        names, seq_dirs = data["sequences"], data["seq_dirs"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise AnnotationError(f"{path}: 'sequences' must be a list of names")
        if not isinstance(seq_dirs, list) or not all(isinstance(d, str) for d in seq_dirs):
            raise AnnotationError(f"{path}: 'seq_dirs' must be a list of directory names")
        if len(names) != len(seq_dirs):
            raise AnnotationError(
                f"{path}: 'sequences' has {len(names)} entries but 'seq_dirs' has {len(seq_dirs)}"
            )

        cats = check_categories(data, path)
        self.category_ids: list[int] = [c["id"] for c in cats]
        self.classes: tuple[str, ...] = tuple(c["name"] for c in cats)
        self._label_of = {cid: i for i, cid in enumerate(self.category_ids)}
        self.coco_mapping: tuple[int, ...] = self._read_mapping(data, path)

        images = validate_images(data, path, ("id", "sid", "fid", "name", "width", "height"))
        self.has_annotations: bool = "annotations" in data
        if self.has_annotations:
            check_annotations(data, path, set(images), set(self.category_ids))
        self.sequences: list[Sequence] = self._build_sequences(images, names, seq_dirs, path)
        self._frame_of: dict[int, Frame] = {f.image_id: f for s in self.sequences for f in s.frames}
        if check_images:
            self._check_files(path)
        self.coco = build_coco(data)

    @staticmethod
    def _read_mapping(data: dict, path: Path) -> tuple[int, ...]:
        if "coco_mapping" not in data:
            # Files written before the key existed use the standard Argoverse-HD mapping.
            if tuple(c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])) == ARGOVERSE_HD_CLASSES:
                return COCO_TO_ARGOVERSE_HD
            return ()
        mapping = data["coco_mapping"]
        n = len(data["categories"])
        if (
            not isinstance(mapping, list)
            or len(mapping) != len(COCO_CLASSES)
            or not all(_is_int(m) and (0 <= m < n or m == len(COCO_CLASSES)) for m in mapping)
        ):
            raise AnnotationError(
                f"{path}: 'coco_mapping' must list {len(COCO_CLASSES)} integers in 0..{n - 1} or 80 (dropped)"
            )
        return tuple(mapping)

    def _build_sequences(self, images: dict[int, dict], names: list[str], seq_dirs: list[str], path: Path) -> list[Sequence]:
        per_seq: dict[int, list[dict]] = defaultdict(list)
        for im in images.values():
            sid, fid = im["sid"], im["fid"]
            if not _is_int(sid) or not 0 <= sid < len(names):
                raise AnnotationError(
                    f"{path}: image {im['id']} has sid {sid!r} outside 0..{len(names) - 1} (the 'sequences' list)"
                )
            if not _is_int(fid) or fid < 0:
                raise AnnotationError(f"{path}: image {im['id']} has an invalid fid {fid!r}")
            per_seq[sid].append(im)
        sequences = []
        for sid, name in enumerate(names):
            ims = sorted(per_seq.get(sid, []), key=lambda im: im["fid"])
            fids = [im["fid"] for im in ims]
            for expected, (fid, im) in enumerate(zip(fids, ims)):
                if fid == expected:
                    continue
                if expected > 0 and fid == fids[expected - 1]:
                    raise AnnotationError(
                        f"{path}: sequence '{name}' (sid {sid}) has duplicate fid {fid} (images "
                        f"{ims[expected - 1]['id']} and {im['id']})"
                    )
                raise AnnotationError(
                    f"{path}: sequence '{name}' (sid {sid}) has a frame gap: fid {expected} is missing "
                    f"(next is {fid}); fids must run 0..n-1"
                )
            directory = self.root / seq_dirs[sid]
            frames = [
                Frame(image_id=im["id"], fid=im["fid"], path=directory / im["name"], t=im["fid"] / self.fps)
                for im in ims
            ]
            sequences.append(Sequence(sid=sid, name=name, directory=directory, frames=frames))
        return sequences

    def _check_files(self, path: Path) -> None:
        missing = [f.path for s in self.sequences for f in s.frames if not f.path.is_file()]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise AnnotationError(f"{path}: image file missing: {missing[0]}{more}; is root={self.root} right?")

    def __len__(self) -> int:
        return len(self._frame_of)

    @property
    def image_ids(self) -> list[int]:
        return [f.image_id for s in self.sequences for f in s.frames]

    def frame(self, image_id: int) -> Frame:
        try:
            return self._frame_of[image_id]
        except KeyError:
            raise KeyError(f"{self.annotation_file}: no image with id {image_id!r}") from None

    def ground_truth(self, image_id: int) -> GroundTruth:
        """Boxes of one frame (crowd regions left out); empty for files without annotations."""
        self.frame(image_id)
        anns = [a for a in self.coco.imgToAnns.get(image_id, []) if not a.get("iscrowd", 0)]
        if not anns:
            return GroundTruth(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
        boxes = xywh_to_xyxy(np.asarray([a["bbox"] for a in anns], np.float32))
        labels = np.asarray([self._label_of[a["category_id"]] for a in anns], np.int64)
        tracks = np.asarray([a.get("track", -1) for a in anns], np.int64)
        return GroundTruth(boxes.astype(np.float32), labels, tracks)
