"""The official Argoverse-HD download layout and this project's layout are found without flags."""
from __future__ import annotations

import json
import shutil

import pytest

from data.argoverse import ArgoverseHD
from data.layout import find_dataset, image_root_for
from data.synthetic import generate_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root, sequences=2, frames=3, size=(160, 96), seed=3, val_fraction=0.5, progress=False)
    return root


def _official_layout(world, root):
    """The same world moved into ROOT/Argoverse-HD/annotations + ROOT/Argoverse-1.1/tracking."""
    shutil.copytree(world / "annotations", root / "Argoverse-HD" / "annotations")
    images = root / "Argoverse-1.1" / "tracking"
    for split in ("train", "val"):
        for seq_dir in json.loads((world / "annotations" / f"{split}.json").read_text())["seq_dirs"]:
            shutil.copytree(world / seq_dir, images / seq_dir)
    return root


@pytest.mark.parametrize("given", ["root", "tracking"])
def test_official_download_layout_is_found(world, tmp_path, given):
    root = _official_layout(world, tmp_path / "argoverse")
    data = root if given == "root" else root / "Argoverse-1.1" / "tracking"
    files = find_dataset(data, "val")
    assert files.annotation_file == root / "Argoverse-HD" / "annotations" / "val.json"
    assert files.image_root == root / "Argoverse-1.1" / "tracking"
    dataset = ArgoverseHD(files.annotation_file, files.image_root, check_images=True)
    assert len(dataset) == 3
    assert image_root_for(files.annotation_file) == (root / "Argoverse-1.1" / "tracking").resolve()


def test_project_layout_and_explicit_annotations(world):
    files = find_dataset(world, "train")
    assert files == find_dataset(world, "train", world / "annotations" / "train.json")
    assert files.image_root in (world, world.resolve())
    ArgoverseHD(files.annotation_file, files.image_root, check_images=True)


def test_missing_split_names_what_was_tried(world):
    with pytest.raises(FileNotFoundError, match="test-meta.json") as err:
        find_dataset(world, "test")
    assert "Argoverse-HD" in str(err.value)
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        find_dataset(world / "nope", "val")


def test_streaming_run_finds_the_official_layout_without_flags(world, tmp_path):
    from data.cli import run_command
    from streaming.run import main as run_main

    root = _official_layout(world, tmp_path / "argoverse")
    code = run_command(run_main, ["--model", "oracle", "--data", str(root), "--latency", "fixed:0",
                                  "--out", str(tmp_path / "run"), "--set", "plot=false"])
    assert code == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["association"]["frames"] == 3 and report["streaming"]["AP"] == 100.0
