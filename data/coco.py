"""COCO-format detection datasets: any instances JSON plus an image folder.

Category ids (COCO's are 1..90 with gaps) are remapped to contiguous label indices 0..C-1 for
training and mapped back for results files. Argoverse-HD files are valid COCO with extra keys;
when `seq_dirs` is present an image lives at `image_dir/seq_dirs[sid]/name`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from data.boxes import clip_xyxy, xywh_to_xyxy
from data.coco_eval import results_array, results_records
from data.detections import Detections


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file and the problem."""


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded."""


def load_json(path: str | Path) -> dict:
    """Read an annotation file; a missing file or bad JSON becomes a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file not found")
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not a UTF-8 JSON file") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a JSON object at the top level")
    return data


def require_keys(obj: Any, keys: Iterable[str], path: Path, what: str) -> None:
    if not isinstance(obj, dict):
        raise AnnotationError(f"{path}: {what} is not a JSON object")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise AnnotationError(f"{path}: {what} is missing key(s) {', '.join(missing)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_categories(data: dict, path: Path) -> list[dict]:
    """Categories sorted by id; ids must be unique integers and names strings."""
    cats = data["categories"]
    if not isinstance(cats, list) or not cats:
        raise AnnotationError(f"{path}: 'categories' must be a non-empty list")
    seen: set[int] = set()
    for i, c in enumerate(cats):
        require_keys(c, ("id", "name"), path, f"categories[{i}]")
        if not _is_int(c["id"]):
            raise AnnotationError(f"{path}: categories[{i}] needs an integer id, got {c['id']!r}")
        if not isinstance(c["name"], str) or not c["name"].strip():
            raise AnnotationError(f"{path}: category {c['id']} has no name (got {c['name']!r})")
        if c["id"] in seen:
            raise AnnotationError(f"{path}: duplicate category id {c['id']}")
        seen.add(c["id"])
    return sorted(cats, key=lambda c: c["id"])


def check_images(data: dict, path: Path, keys: tuple[str, ...]) -> dict[int, dict]:
    images = data["images"]
    if not isinstance(images, list):
        raise AnnotationError(f"{path}: 'images' must be a list")
    by_id: dict[int, dict] = {}
    for i, im in enumerate(images):
        require_keys(im, keys, path, f"images[{i}]")
        if not _is_int(im["id"]):
            raise AnnotationError(f"{path}: images[{i}] has a non-integer id {im['id']!r}")
        if im["id"] in by_id:
            raise AnnotationError(f"{path}: duplicate image id {im['id']}")
        if not (_is_int(im["width"]) and _is_int(im["height"]) and im["width"] > 0 and im["height"] > 0):
            raise AnnotationError(f"{path}: image {im['id']} has an invalid width/height")
        by_id[im["id"]] = im
    return by_id


def check_annotations(data: dict, path: Path, image_ids: set[int], category_ids: set[int]) -> None:
    """Every annotation: known image and category, a finite [l,t,w,h] box with w,h >= 0, unique id."""
    anns = data["annotations"]
    if not isinstance(anns, list):
        raise AnnotationError(f"{path}: 'annotations' must be a list")
    seen: set[int] = set()
    for i, a in enumerate(anns):
        require_keys(a, ("id", "image_id", "category_id", "bbox"), path, f"annotations[{i}]")
        if a["id"] in seen:
            raise AnnotationError(f"{path}: duplicate annotation id {a['id']}")
        seen.add(a["id"])
        if a["image_id"] not in image_ids:
            raise AnnotationError(f"{path}: annotation {a['id']} refers to unknown image id {a['image_id']!r}")
        if a["category_id"] not in category_ids:
            raise AnnotationError(
                f"{path}: annotation {a['id']} has unknown category id {a['category_id']!r} "
                f"(known: {sorted(category_ids)})"
            )
        b = a["bbox"]
        if not (isinstance(b, list) and len(b) == 4 and all(_is_number(v) for v in b) and b[2] >= 0 and b[3] >= 0):
            raise AnnotationError(f"{path}: annotation {a['id']} has a malformed bbox {b!r} (want [l, t, w, h])")


def build_coco(data: dict):
    """The COCO ground-truth object (data.coco_eval's engine) over an already-validated dict.

    COCOeval reads `iscrowd` and `area` of every ground-truth box; hand-made files often leave
    them out, so they default to 0 and w * h here. COCOeval also records a match by the ground
    truth's id and treats id 0 as "unmatched", so files numbered from 0 (as the Argoverse-HD
    pseudo ground truth is) would lose true positives: such ids are renumbered from 1.
    """
    from data.coco_eval import ground_truth

    anns = data.get("annotations", [])
    if any(a["id"] <= 0 for a in anns):
        for i, a in enumerate(anns, start=1):
            a["id"] = i
    for a in anns:
        a.setdefault("iscrowd", 0)
        if "area" not in a:
            a["area"] = float(a["bbox"][2] * a["bbox"][3])
    return ground_truth(data)


def read_image(path: Path, what: str = "") -> np.ndarray:
    """BGR uint8 image, or a one-line error naming the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image file not found{what}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(f"{path}: cannot decode image (corrupt or unsupported format){what}")
    return image


class CocoDataset:
    """Images and boxes of a COCO instances file; labels are contiguous indices into `classes`."""

    def __init__(self, annotation_file: str | Path, image_dir: str | Path) -> None:
        self.annotation_file = Path(annotation_file)
        self.image_dir = Path(image_dir)
        path = self.annotation_file
        data = load_json(path)
        require_keys(data, ("images", "annotations", "categories"), path, "the file")
        cats = check_categories(data, path)
        self.category_ids: list[int] = [c["id"] for c in cats]
        self.classes: tuple[str, ...] = tuple(c["name"] for c in cats)
        self._label_of = {cid: i for i, cid in enumerate(self.category_ids)}
        self._seq_dirs: list[str] | None = data.get("seq_dirs")
        if self._seq_dirs is not None:
            if not isinstance(self._seq_dirs, list) or not all(isinstance(d, str) for d in self._seq_dirs):
                raise AnnotationError(f"{path}: 'seq_dirs' must be a list of strings")
            images = check_images(data, path, ("id", "sid", "name", "width", "height"))
            for im in images.values():
                if not (_is_int(im["sid"]) and 0 <= im["sid"] < len(self._seq_dirs)):
                    raise AnnotationError(
                        f"{path}: image {im['id']} has sid {im['sid']!r} outside 0..{len(self._seq_dirs) - 1}"
                    )
        else:
            images = check_images(data, path, ("id", "width", "height"))
            for im in images.values():
                if "file_name" not in im and "name" not in im:
                    raise AnnotationError(f"{path}: image {im['id']} has neither 'file_name' nor 'name'")
        check_annotations(data, path, set(images), set(self.category_ids))
        self.coco = build_coco(data)
        self.image_ids: list[int] = sorted(images)

    def __len__(self) -> int:
        return len(self.image_ids)

    def image_info(self, index: int) -> dict:
        return self.coco.imgs[self.image_ids[index]]

    def image_path(self, index: int) -> Path:
        info = self.image_info(index)
        if self._seq_dirs is not None:
            return self.image_dir / self._seq_dirs[info["sid"]] / info["name"]
        return self.image_dir / info.get("file_name", info.get("name"))

    def load_image(self, index: int) -> np.ndarray:
        """The image as BGR uint8 (H, W, 3)."""
        return read_image(self.image_path(index), f" (image id {self.image_ids[index]} of {self.annotation_file})")

    def annotations(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(boxes xyxy float32 (N,4) clipped to the image, labels int64 (N,)); crowd regions and
        boxes with no area inside the image are left out."""
        info = self.image_info(index)
        anns = [a for a in self.coco.imgToAnns.get(info["id"], []) if not a.get("iscrowd", 0)]
        if not anns:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
        boxes = xywh_to_xyxy(np.asarray([a["bbox"] for a in anns], np.float32))
        boxes = clip_xyxy(boxes, info["width"], info["height"])
        labels = np.asarray([self._label_of[a["category_id"]] for a in anns], np.int64)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return boxes[keep], labels[keep]

    def label_to_category_id(self, label: int) -> int:
        return self.category_ids[int(label)]

    def category_id_to_label(self, category_id: int) -> int:
        return self._label_of[category_id]

    def results(self, image_id: int, detections: Detections) -> list[dict]:
        """COCO results entries `{image_id, category_id, bbox [l,t,w,h], score}` for one image
        (data.coco_eval's converter with this dataset's category ids)."""
        return results_records(results_array([image_id], [detections], self.category_ids))
