"""COCO-format dataset: contiguous labels and back, crowd skipping, clear errors, and a real
pycocotools round trip (ground truth submitted as results scores AP 1)."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data.coco import AnnotationError, CocoDataset, ImageReadError
from data.detections import Detections


def _coco(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir(parents=True)
    for name, shade in (("a.jpg", 60), ("b.png", 120)):
        cv2.imwrite(str(images / name), np.full((50, 80, 3), shade, np.uint8))
    doc = {
        "images": [{"id": 7, "file_name": "b.png", "width": 80, "height": 50},
                   {"id": 3, "file_name": "a.jpg", "width": 80, "height": 50}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 18, "bbox": [10, 10, 20, 15], "area": 300, "iscrowd": 0},
            {"id": 2, "image_id": 3, "category_id": 1, "bbox": [70, 40, 30, 30], "area": 900, "iscrowd": 0},
            {"id": 3, "image_id": 3, "category_id": 3, "bbox": [0, 0, 80, 50], "area": 4000, "iscrowd": 1},
            {"id": 4, "image_id": 7, "category_id": 3, "bbox": [1.5, 2.5, 5, 6]},  # area, iscrowd default
            {"id": 5, "image_id": 7, "category_id": 1, "bbox": [90, 10, 5, 5], "area": 25, "iscrowd": 0},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(doc))
    return path


def test_labels_boxes_and_images(tmp_path):
    ds = CocoDataset(_coco(tmp_path), tmp_path / "images")
    assert ds.classes == ("person", "car", "dog") and ds.category_ids == [1, 3, 18]
    assert len(ds) == 2 and ds.image_ids == [3, 7]
    boxes, labels = ds.annotations(0)
    assert boxes.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [2, 0])  # dog, person; the crowd car is skipped
    np.testing.assert_allclose(boxes, [[10, 10, 30, 25], [70, 40, 80, 50]])  # clipped to 80x50
    boxes, labels = ds.annotations(1)
    np.testing.assert_array_equal(labels, [1])  # the box wholly outside the image is dropped
    np.testing.assert_allclose(boxes, [[1.5, 2.5, 6.5, 8.5]])
    image = ds.load_image(1)
    assert image.dtype == np.uint8 and image.shape == (50, 80, 3) and image.mean() == pytest.approx(120, abs=1)
    assert ds.label_to_category_id(2) == 18 and ds.category_id_to_label(3) == 1
    assert ds.coco.anns[4]["area"] == 30.0 and ds.coco.anns[4]["iscrowd"] == 0  # filled in for COCOeval


def test_results_round_trip_through_cocoeval(tmp_path):
    from pycocotools.cocoeval import COCOeval

    ds = CocoDataset(_coco(tmp_path), tmp_path / "images")
    results = []
    for i, image_id in enumerate(ds.image_ids):
        boxes, labels = ds.annotations(i)
        results += ds.results(image_id, Detections(boxes, np.ones(len(labels)), labels))
    assert {r["category_id"] for r in results} == {1, 3, 18}
    assert results[0] == {"image_id": 3, "category_id": 18, "bbox": [10.0, 10.0, 20.0, 15.0], "score": 1.0}
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(ds.coco, ds.coco.loadRes(results), "bbox")
        ev.params.areaRng = [[0, 1e10]] * 4  # tiny boxes: judge every size alike
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # dog and car come back perfectly (AP 1); both people lose theirs to clipping (one is cut to
    # IoU 0.11 with its unclipped ground truth, the other lies outside the image): AP 0.
    assert ev.stats[0] == pytest.approx(2 / 3) and ev.stats[1] == pytest.approx(2 / 3)


def _error(tmp_path: Path, mutate) -> str:
    path = _coco(tmp_path)
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(AnnotationError) as info:
        CocoDataset(path, tmp_path / "images")
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    return str(info.value)


def test_malformed_files(tmp_path):
    assert "missing key(s) annotations" in _error(tmp_path / "a", lambda d: d.pop("annotations"))
    assert "malformed bbox" in _error(tmp_path / "b", lambda d: d["annotations"][0].update(bbox=[1, 2, 3]))
    assert "unknown image id 99" in _error(tmp_path / "c", lambda d: d["annotations"][0].update(image_id=99))
    assert "unknown category id 5" in _error(tmp_path / "d", lambda d: d["annotations"][0].update(category_id=5))
    assert "duplicate image id 7" in _error(tmp_path / "e", lambda d: d["images"].append(dict(d["images"][0])))
    assert "neither 'file_name' nor 'name'" in _error(tmp_path / "f", lambda d: d["images"][0].pop("file_name"))
    assert "category 18 has no name (got None)" in _error(tmp_path / "g", lambda d: d["categories"][0].update(name=None))
    assert "needs an integer id" in _error(tmp_path / "h", lambda d: d["categories"][0].update(id="1"))
    with pytest.raises(FileNotFoundError, match="annotation file not found"):
        CocoDataset(tmp_path / "missing.json", tmp_path)


def test_missing_and_corrupt_images(tmp_path):
    path = _coco(tmp_path)
    (tmp_path / "images" / "a.jpg").unlink()
    (tmp_path / "images" / "b.png").write_bytes(b"not a png at all")
    ds = CocoDataset(path, tmp_path / "images")
    with pytest.raises(FileNotFoundError, match=r"a\.jpg: image file not found \(image id 3"):
        ds.load_image(0)
    with pytest.raises(ImageReadError, match=r"b\.png: cannot decode image"):
        ds.load_image(1)


def test_reads_argoverse_style_files_with_seq_dirs(tmp_path):
    from data.synthetic import generate_world

    generate_world(tmp_path / "w", sequences=1, frames=4, size=(160, 100), seed=5, val_fraction=0.0, progress=False)
    ds = CocoDataset(tmp_path / "w" / "annotations" / "train.json", tmp_path / "w")
    assert len(ds) == 4 and len(ds.classes) == 8 and ds.category_ids == list(range(8))
    doc = json.loads((tmp_path / "w" / "annotations" / "train.json").read_text())
    assert ds.image_path(2) == tmp_path / "w" / doc["seq_dirs"][0] / "000002.jpg"
    assert ds.load_image(3).shape == (100, 160, 3)
    total = sum(len(ds.annotations(i)[1]) for i in range(len(ds)))
    assert total == sum(not a["iscrowd"] for a in doc["annotations"]) > 0  # tiny boxes are crowd (ignored)


def test_ground_truth_ids_from_zero_still_match(tmp_path: Path) -> None:
    """pycocotools treats a match to ground-truth id 0 as no match; ids from 0 are renumbered."""
    from pycocotools.cocoeval import COCOeval

    from data.coco import build_coco

    data = {
        "images": [{"id": 0, "width": 100, "height": 100}],
        "categories": [{"id": 0, "name": "car"}],
        "annotations": [{"id": 0, "image_id": 0, "category_id": 0, "bbox": [10, 10, 30, 30]},
                        {"id": 1, "image_id": 0, "category_id": 0, "bbox": [50, 50, 30, 30]}],
    }
    gt = build_coco(data)
    dt = gt.loadRes([{"image_id": 0, "category_id": 0, "bbox": [10, 10, 30, 30], "score": 0.9},
                     {"image_id": 0, "category_id": 0, "bbox": [50, 50, 30, 30], "score": 0.8}])
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate(), ev.accumulate()
    with contextlib.redirect_stdout(io.StringIO()):
        ev.summarize()
    assert ev.stats[0] > 0.99
