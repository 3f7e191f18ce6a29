"""Where an Argoverse-HD-style dataset keeps its annotation files and its images.

Two layouts are found without flags:

    official download           ROOT/Argoverse-HD/annotations/{train,val,test-meta}.json
                                ROOT/Argoverse-1.1/tracking/<seq_dirs[sid]>/<name>
    this project's worlds       ROOT/annotations/{train,val}.json
                                ROOT/<seq_dirs[sid]>/<name>

`--data` may name ROOT, or (as the sAP toolkit's scripts do) the image root
`ROOT/Argoverse-1.1/tracking` itself; an explicit annotation file wins over the search, and its
image root follows from where it sits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HD_DIR = "Argoverse-HD"
IMAGES_DIR = Path("Argoverse-1.1") / "tracking"


@dataclass(frozen=True)
class DatasetFiles:
    annotation_file: Path
    image_root: Path  # seq_dirs are relative to this folder


def annotation_name(split: str) -> str:
    """File name of a split: the official test split has only meta data (no boxes)."""
    return "test-meta.json" if split == "test" else f"{split}.json"


def image_root_for(annotation_file: str | Path) -> Path:
    """The folder that `seq_dirs` / COCO `file_name`s are relative to, for an annotation file."""
    folder = Path(annotation_file).resolve().parent
    if folder.name != "annotations":
        return folder  # a plain COCO file next to its images
    above = folder.parent
    if above.name == HD_DIR:
        return above.parent / IMAGES_DIR
    return above


def find_dataset(data: str | Path, split: str, annotations: str | Path | None = None) -> DatasetFiles:
    """Annotation file and image root of `split` under `data`, or a clear error naming what was tried."""
    data = Path(data)
    if annotations:
        annotation_file = Path(annotations)
        if not annotation_file.is_file():
            raise FileNotFoundError(f"{annotation_file}: annotation file not found")
        if data.is_dir() and _holds_images(data):
            return DatasetFiles(annotation_file, data)
        return DatasetFiles(annotation_file, image_root_for(annotation_file))
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: dataset folder not found")
    name = annotation_name(split)
    candidates = [
        (data / HD_DIR / "annotations" / name, data / IMAGES_DIR),
        (data / "annotations" / name, data),
    ]
    if data.name == IMAGES_DIR.name and data.parent.name == IMAGES_DIR.parent.name:
        candidates.append((data.parent.parent / HD_DIR / "annotations" / name, data))
    for annotation_file, image_root in candidates:
        if annotation_file.is_file():
            return DatasetFiles(annotation_file, image_root)
    tried = ", ".join(str(a) for a, _ in candidates)
    raise FileNotFoundError(f"{data}: no {name} found (looked for {tried}); pass --annotations FILE")


def _holds_images(folder: Path) -> bool:
    """A folder given next to an explicit annotation file is the image root unless it is the
    dataset root of the official layout (which holds Argoverse-HD/ and Argoverse-1.1/)."""
    return not (folder / HD_DIR).is_dir()
