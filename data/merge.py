"""Merge Argoverse-HD annotation files of one dataset root, holding sequences out by name.

    python -m data.merge --ann datasets/big/annotations/train.json datasets/big/annotations/val.json \\
        --hold-out datasets/small/annotations/val.json --out datasets/big/annotations/train_holdout.json

Two worlds generated with the same seed share their first sequences (each sequence draws from
(seed, index)) but not their train/val split, so a larger world's training split can hold a
smaller world's validation sequences. Merging with `--hold-out` drops every sequence named in
the given files, so the merged file can train a model that is then scored on them.

Every input must use the same categories and `coco_mapping`; image and annotation ids are
renumbered from 0 and 1. Sequence directories stay as they are (relative to the shared root), or,
to merge worlds that live in different folders, `--images` names each file's image root and
`--root` the merged file's, and every sequence directory is rewritten relative to `--root`:

    python -m data.merge --ann datasets/a/annotations/train.json datasets/b/annotations/train.json \
        --images datasets/a datasets/b --root datasets --out datasets/ab_train.json
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Sequence

from data.cli import run_command
from data.coco import AnnotationError, load_json, require_keys

__all__ = ["merge_annotations", "main"]


def _sequence_names(doc: dict, path: Path) -> list[str]:
    require_keys(doc, ("images", "categories", "sequences", "seq_dirs"), path, "the file")
    names = doc["sequences"]
    if not isinstance(names, list) or len(names) != len(doc["seq_dirs"]):
        raise AnnotationError(f"{path}: 'sequences' and 'seq_dirs' must be lists of the same length")
    return names


def merge_annotations(files: Sequence[str | Path], *, hold_out: Sequence[str | Path] = (),
                      images: Sequence[str | Path] | None = None, root: str | Path | None = None
                      ) -> tuple[dict, dict]:
    """The merged document and a summary {"sequences", "held_out", "images", "annotations"}.
    `images` (one image root per file) and `root` go together: sequence directories are then
    rewritten relative to `root`."""
    if not files:
        raise ValueError("merge_annotations: no annotation files given")
    if (images is None) != (root is None):
        raise ValueError("merge_annotations: images and root go together (each file's image root, the merged one)")
    if images is not None and len(images) != len(files):
        raise ValueError(f"merge_annotations: {len(files)} annotation files but {len(images)} image roots")
    held = set()
    for path in map(Path, hold_out):
        held.update(_sequence_names(load_json(path), path))
    merged: dict | None = None
    seen: dict[str, Path] = {}
    dropped = 0
    for i, path in enumerate(map(Path, files)):
        doc = load_json(path)
        names = _sequence_names(doc, path)
        if merged is None:
            merged = {k: v for k, v in doc.items() if k not in ("images", "annotations", "sequences", "seq_dirs")}
            merged.update(images=[], annotations=[], sequences=[], seq_dirs=[])
        for key in ("categories", "coco_mapping"):
            if doc.get(key) != merged.get(key):
                raise AnnotationError(f"{path}: its '{key}' differ from those of {files[0]}")
        new_sid: dict[int, int] = {}
        for sid, (name, seq_dir) in enumerate(zip(names, doc["seq_dirs"])):
            if name in held:
                dropped += 1
                continue
            if name in seen:
                raise AnnotationError(f"{path}: sequence {name!r} is also in {seen[name]}")
            seen[name] = path
            new_sid[sid] = len(merged["sequences"])
            merged["sequences"].append(name)
            if images is not None and root is not None:
                seq_dir = Path(os.path.relpath(Path(images[i]) / seq_dir, root)).as_posix()
            merged["seq_dirs"].append(seq_dir)
        new_image_id: dict[int, int] = {}
        for im in doc["images"]:
            if im["sid"] in new_sid:
                new_image_id[im["id"]] = len(merged["images"])
                merged["images"].append({**im, "id": new_image_id[im["id"]], "sid": new_sid[im["sid"]]})
        for ann in doc.get("annotations", []):
            if ann["image_id"] in new_image_id:
                merged["annotations"].append(
                    {**ann, "id": len(merged["annotations"]) + 1, "image_id": new_image_id[ann["image_id"]]})
    summary = {"sequences": len(merged["sequences"]), "held_out": dropped,
               "images": len(merged["images"]), "annotations": len(merged["annotations"])}
    return merged, summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data.merge", description=__doc__.split("\n\n")[0])
    ap.add_argument("--ann", nargs="+", required=True, help="annotation files to merge")
    ap.add_argument("--hold-out", nargs="*", default=[], help="drop the sequences named in these files")
    ap.add_argument("--images", nargs="+", help="each --ann file's image root (default: all share one root)")
    ap.add_argument("--root", help="with --images: the merged file's image root")
    ap.add_argument("--out", required=True, help="the merged annotation file to write")
    args = ap.parse_args(argv)
    merged, summary = merge_annotations(args.ann, hold_out=args.hold_out, images=args.images, root=args.root)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, sort_keys=True, separators=(",", ":")))
    print(f"{out}: {summary['sequences']} sequences ({summary['held_out']} held out), "
          f"{summary['images']} images, {summary['annotations']} annotations")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
