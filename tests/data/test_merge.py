"""data.merge: a larger world's splits merged without a smaller world's validation sequences read
back as a dataset whose sequences and boxes are the larger world's, minus the held-out ones."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.argoverse import ArgoverseHD
from data.cli import run_command
from data.merge import main, merge_annotations
from data.synthetic.world import generate_world


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("worlds")
    for name, sequences in (("small", 4), ("large", 8)):
        generate_world(root / name, sequences=sequences, frames=3, size=(160, 96), seed=3, progress=False)
    return root


def test_merged_splits_hold_out_the_smaller_worlds_validation_sequences(worlds, tmp_path):
    large, small = worlds / "large" / "annotations", worlds / "small" / "annotations"
    out = tmp_path / "train_holdout.json"
    assert main(["--ann", str(large / "train.json"), str(large / "val.json"),
                 "--hold-out", str(small / "val.json"), "--out", str(out)]) == 0

    held = {s.name for s in ArgoverseHD(small / "val.json", worlds / "small").sequences}
    parts = [ArgoverseHD(large / f"{split}.json", worlds / "large") for split in ("train", "val")]
    assert held < {s.name for ds in parts for s in ds.sequences}  # the same seed shares them
    merged = ArgoverseHD(out, worlds / "large")  # checks every image file exists
    expected = sorted(s.name for ds in parts for s in ds.sequences if s.name not in held)
    assert held and sorted(s.name for s in merged.sequences) == expected
    assert len(merged) == sum(len(s) for ds in parts for s in ds.sequences if s.name not in held)

    # Every merged frame keeps its own file and ground truth, under new ids.
    source = {(s.name, f.fid): (ds, f) for ds in parts for s in ds.sequences for f in s.frames}
    for seq in merged.sequences:
        for frame in seq.frames:
            ds, original = source[(seq.name, frame.fid)]
            assert frame.path == original.path
            got, want = merged.ground_truth(frame.image_id), ds.ground_truth(original.image_id)
            np.testing.assert_array_equal(got.boxes, want.boxes)
            np.testing.assert_array_equal(got.labels, want.labels)
            np.testing.assert_array_equal(got.track_ids, want.track_ids)
    doc = json.loads(out.read_text())
    assert sorted(im["id"] for im in doc["images"]) == list(range(len(doc["images"])))
    assert len({a["id"] for a in doc["annotations"]}) == len(doc["annotations"])


def test_a_sequence_in_two_files_is_an_error_naming_the_file(worlds):
    train = worlds / "large" / "annotations" / "train.json"
    with pytest.raises(ValueError, match=r"train\.json: sequence .* is also in"):
        merge_annotations([train, train])


def test_different_categories_are_an_error(worlds, tmp_path):
    val = worlds / "large" / "annotations" / "val.json"
    doc = json.loads(val.read_text())
    doc["categories"] = doc["categories"][:-1]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"other\.json: its 'categories' differ"):
        merge_annotations([worlds / "large" / "annotations" / "train.json", other])


def test_missing_file_exits_with_bad_input(tmp_path, capsys):
    assert run_command(main, ["--ann", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o.json")]) == 2
    assert "nope.json: annotation file not found" in capsys.readouterr().err


def test_worlds_in_different_folders_merge_under_a_common_root(worlds, tmp_path):
    other = tmp_path / "other"
    generate_world(other, sequences=2, frames=3, size=(160, 96), seed=4, val_fraction=0.5, progress=False)
    small = worlds / "small"
    out = tmp_path / "both.json"
    assert main(["--ann", str(small / "annotations" / "train.json"), str(other / "annotations" / "train.json"),
                 "--images", str(small), str(other), "--root", str(tmp_path), "--out", str(out)]) == 0
    merged = ArgoverseHD(out, tmp_path)  # every image found under the common root
    parts = [ArgoverseHD(small / "annotations" / "train.json", small),
             ArgoverseHD(other / "annotations" / "train.json", other)]
    assert [s.name for s in merged.sequences] == [s.name for ds in parts for s in ds.sequences]
    first = merged.sequences[0].frames[0]
    src = parts[0].sequences[0].frames[0]
    assert first.path.resolve() == src.path.resolve()
    np.testing.assert_array_equal(merged.ground_truth(first.image_id).boxes,
                                  parts[0].ground_truth(src.image_id).boxes)


def test_images_without_root_is_an_error(worlds, tmp_path):
    ann = worlds / "small" / "annotations" / "train.json"
    with pytest.raises(ValueError, match="together"):
        merge_annotations([ann], images=[worlds / "small"])
    with pytest.raises(ValueError, match="image roots"):
        merge_annotations([ann], images=[worlds / "small", worlds], root=worlds)
