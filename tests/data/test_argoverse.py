"""Argoverse-HD reader: a well-formed file reads into timestamped sequences; malformed files fail
with one-line errors that name the file and the problem."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data.argoverse import AnnotationError, ArgoverseHD
from data.classes import ARGOVERSE_HD_CLASSES, COCO_TO_ARGOVERSE_HD


def _doc() -> dict:
    """Two sequences of three frames; images listed out of order on purpose."""
    images, anns = [], []
    for sid in range(2):
        for fid in (2, 0, 1):
            image_id = sid * 10 + fid
            images.append({"id": image_id, "sid": sid, "fid": fid, "name": f"{fid:06d}.jpg", "width": 64, "height": 48})
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 2, "bbox": [4.0, 5.0, 10.0, 8.0],
                         "area": 80.0, "iscrowd": 0, "track": 100 + sid})
    anns.append({"id": len(anns) + 1, "image_id": 0, "category_id": 6, "bbox": [30.0, 2.0, 4.0, 9.0],
                 "area": 36.0, "iscrowd": 0})  # no track
    anns.append({"id": len(anns) + 1, "image_id": 0, "category_id": 0, "bbox": [0.0, 0.0, 64.0, 48.0],
                 "area": 3072.0, "iscrowd": 1})  # crowd region, left out of ground truth
    return {
        "categories": [{"id": i, "name": n} for i, n in enumerate(ARGOVERSE_HD_CLASSES)],
        "coco_mapping": list(COCO_TO_ARGOVERSE_HD),
        "sequences": ["seq_a", "seq_b"],
        "seq_dirs": ["train/seq_a/ring_front_center", "train/seq_b/ring_front_center"],
        "images": images,
        "annotations": anns,
    }


def _write(tmp_path: Path, doc: dict, images: bool = True) -> Path:
    if images:
        for im in doc["images"]:
            d = tmp_path / doc["seq_dirs"][im["sid"]]
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / im["name"]), np.full((48, 64, 3), 40 * im.get("fid", 0), np.uint8))
    path = tmp_path / "annotations" / "val.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_reads_sequences_frames_and_ground_truth(tmp_path):
    ds = ArgoverseHD(_write(tmp_path, _doc()), tmp_path)
    assert ds.classes == ARGOVERSE_HD_CLASSES
    assert ds.fps == 30.0 and ds.has_annotations and len(ds) == 6
    assert ds.category_ids == list(range(8))
    assert ds.coco_mapping == COCO_TO_ARGOVERSE_HD
    assert [s.name for s in ds.sequences] == ["seq_a", "seq_b"]
    seq = ds.sequences[1]
    assert seq.sid == 1 and seq.directory == tmp_path / "train/seq_b/ring_front_center"
    assert [f.fid for f in seq.frames] == [0, 1, 2]
    assert [f.image_id for f in seq.frames] == [10, 11, 12]
    assert [f.t for f in seq.frames] == [0.0, 1 / 30, 2 / 30]
    assert all(f.path.is_file() for f in seq.frames)
    gt = ds.ground_truth(0)
    assert gt.boxes.dtype == np.float32 and gt.labels.dtype == np.int64 and gt.track_ids.dtype == np.int64
    order = np.argsort(gt.labels)
    np.testing.assert_array_equal(gt.labels[order], [2, 6])  # the crowd region is not there
    np.testing.assert_allclose(gt.boxes[order], [[4, 5, 14, 13], [30, 2, 34, 11]])
    np.testing.assert_array_equal(gt.track_ids[order], [100, -1])
    assert len(ds.ground_truth(12)) == 1
    assert ds.frame(11).fid == 1 and ds.frame(11).path.name == "000001.jpg"
    assert len(ds.coco.getAnnIds()) == 8  # pycocotools sees everything, crowd included
    with pytest.raises(KeyError, match="no image with id 99"):
        ds.ground_truth(99)


def test_test_meta_without_annotations_and_default_mapping(tmp_path):
    doc = _doc()
    del doc["annotations"], doc["coco_mapping"]
    ds = ArgoverseHD(_write(tmp_path, doc), tmp_path)
    assert not ds.has_annotations
    assert ds.coco_mapping == COCO_TO_ARGOVERSE_HD
    gt = ds.ground_truth(10)
    assert len(gt) == 0 and gt.boxes.shape == (0, 4)


def _error(tmp_path: Path, doc: dict, images: bool = True, **kwargs) -> str:
    path = _write(tmp_path, doc, images=images)
    with pytest.raises(AnnotationError) as info:
        ArgoverseHD(path, tmp_path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_top_level_key(tmp_path):
    doc = _doc()
    del doc["seq_dirs"]
    assert "missing key(s) seq_dirs" in _error(tmp_path, doc, images=False)


def test_missing_image_key(tmp_path):
    doc = _doc()
    del doc["images"][3]["fid"]
    assert "images[3] is missing key(s) fid" in _error(tmp_path, doc)


def test_fid_gap(tmp_path):
    doc = _doc()
    doc["images"] = [im for im in doc["images"] if not (im["sid"] == 0 and im["fid"] == 1)]
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != 1]
    message = _error(tmp_path, doc)
    assert "sequence 'seq_a'" in message and "frame gap: fid 1 is missing" in message


def test_duplicate_fid(tmp_path):
    doc = _doc()
    doc["images"].append(dict(doc["images"][0], id=77, name="dup.jpg"))
    assert "duplicate fid 2" in _error(tmp_path, doc)


def test_sid_out_of_range(tmp_path):
    doc = _doc()
    doc["images"][0]["sid"] = 5
    assert "sid 5 outside 0..1" in _error(tmp_path, doc, images=False)


def test_unknown_category(tmp_path):
    doc = _doc()
    doc["annotations"][2]["category_id"] = 9
    assert "unknown category id 9" in _error(tmp_path, doc)


def test_missing_image_file(tmp_path):
    doc = _doc()
    path = _write(tmp_path, doc)
    (tmp_path / doc["seq_dirs"][1] / "000002.jpg").unlink()
    with pytest.raises(AnnotationError, match=r"image file missing: .*seq_b/ring_front_center/000002\.jpg"):
        ArgoverseHD(path, tmp_path)
    assert len(ArgoverseHD(path, tmp_path, check_images=False)) == 6  # not checked: still readable


def test_malformed_bbox_mapping_and_json(tmp_path):
    doc = _doc()
    doc["annotations"][0]["bbox"] = [1, 2, -3, 4]
    assert "malformed bbox" in _error(tmp_path, doc)
    doc = _doc()
    doc["coco_mapping"] = [0] * 79
    assert "'coco_mapping' must list 80 integers" in _error(tmp_path, copy.deepcopy(doc))
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [')
    with pytest.raises(AnnotationError, match="broken.json: not valid JSON"):
        ArgoverseHD(bad, tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.json: annotation file not found"):
        ArgoverseHD(tmp_path / "nowhere.json", tmp_path)
