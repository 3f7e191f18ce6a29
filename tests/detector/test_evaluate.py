"""`python -m detector.eval` on a generated COCO split: AP table, per-class AP, saved JSON, and
clear errors for a wrong class count or a missing model file."""
from __future__ import annotations

import json

from data.coco import CocoDataset
from detector.checkpoint import save_checkpoint
from detector.evaluate import coco_ap, main as eval_main
from detector.model import build_model
from tests.support.toy_coco import TOY_CLASSES, make_toy_coco


def test_eval_cli_reports_ap_and_per_class(tmp_path, capsys):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=4, size=(96, 64), seed=5)
    save_checkpoint(tmp_path / "m.pth", build_model("yolox_nano", num_classes=3), classes=list(TOY_CLASSES),
                    input_size=[64, 96], model_name="yolox_nano")
    out = tmp_path / "ap.json"
    rc = eval_main(["--model", str(tmp_path / "m.pth"), "--data", str(ann), "--image-dir", str(img_dir),
                    "--out", str(out), "--threads", "1"])
    assert rc == 0
    stats = json.loads(out.read_text())
    for key in ("ap", "ap50", "ap75", "aps", "apm", "apl"):
        assert 0.0 <= stats[key] <= 1.0
    assert set(stats["per_class"]) == set(TOY_CLASSES)
    assert stats["input_size"] == [64, 96] and stats["num_images"] == 4
    printed = capsys.readouterr().out
    assert "AP50" in printed and "green" in printed


def test_eval_cli_rejects_class_count_mismatch(tmp_path, capsys):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=2, size=(96, 64), seed=6)
    save_checkpoint(tmp_path / "m80.pth", build_model("yolox_nano", num_classes=80))
    rc = eval_main(["--model", str(tmp_path / "m80.pth"), "--data", str(ann), "--image-dir", str(img_dir),
                    "--input-size", "64", "96"])
    assert rc == 2 and "80 classes but the dataset has 3" in capsys.readouterr().err
    assert eval_main(["--model", str(tmp_path / "missing.pth"), "--data", str(ann)]) == 2


def test_coco_ap_perfect_predictions_score_one(tmp_path):
    ann, img_dir = make_toy_coco(tmp_path / "d", n_images=3, size=(96, 64), seed=7)
    ds = CocoDataset(ann, img_dir)
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
               for a in ds.coco.dataset["annotations"]]
    stats = coco_ap(ds, results, ds.image_ids)
    assert abs(stats["ap"] - 1.0) < 1e-6
    assert coco_ap(ds, [], ds.image_ids)["ap"] == 0.0
