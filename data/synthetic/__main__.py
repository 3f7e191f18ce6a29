"""python -m data.synthetic --out datasets/synthetic-hd --sequences N --frames F --size 1920x1200 --seed S"""
from __future__ import annotations

import argparse
import sys

from data.synthetic.world import generate_world


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1200, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data.synthetic",
                                 description="Render a synthetic driving world in Argoverse-HD layout.")
    ap.add_argument("--out", required=True, help="output folder (e.g. datasets/synthetic-hd)")
    ap.add_argument("--sequences", type=int, default=4)
    ap.add_argument("--frames", type=int, default=300, help="frames per sequence (30 FPS)")
    ap.add_argument("--size", type=_size, default=(1920, 1200), help="WxH, default 1920x1200")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.25)
    ap.add_argument("--video", action="store_true", help="also write videos/<sequence>.mp4")
    ap.add_argument("--preview", metavar="DIR", help="write a few PNG frames with ground-truth boxes here")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        summary = generate_world(args.out, sequences=args.sequences, frames=args.frames, size=args.size,
                                 seed=args.seed, val_fraction=args.val_fraction, video=args.video,
                                 preview_dir=args.preview, progress=not args.quiet)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    w, h = summary["size"]
    print(f"\nwrote {summary['out']}: {summary['frames']} frames of {w}x{h} in {summary['seconds']:.1f} s "
          f"({summary['frames'] / max(summary['seconds'], 1e-9):.1f} frames/s)")
    for split, names in summary["sequences"].items():
        print(f"  {split:5s} {len(names):3d} sequences")
    print(f"  {'class':14s} {'boxes':>8s} {'tracks':>7s}")
    for name, n in summary["objects"].items():
        print(f"  {name:14s} {n:8d} {summary['tracks'][name]:7d}")
    print(f"  {'total':14s} {sum(summary['objects'].values()):8d} {sum(summary['tracks'].values()):7d}")
    sizes = summary["box_sizes"]
    q = "  ".join(f"{k} {v}" for k, v in sizes["shorter_side_px"].items())
    print(f"  box shorter side (px): {q}")
    print("  boxes by shorter side: " + "  ".join(f"{k} px: {v}" for k, v in sizes["shorter_side_bins"].items()))
    print(f"  ignored (iscrowd, shorter side < {sizes['ignore_below_px']:g} px): {sizes['ignored']} of {sizes['boxes']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
