"""Class lists and drawing colours, defined once for the whole project."""
from __future__ import annotations

ARGOVERSE_HD_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic_light", "stop_sign",
)

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

# COCO category ids as they appear in instances_*.json (non-contiguous, 1..90).
COCO_CATEGORY_IDS: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27,
    28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53,
    54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80,
    81, 82, 84, 85, 86, 87, 88, 89, 90,
)

# Index into COCO_CLASSES -> index into ARGOVERSE_HD_CLASSES; 80 means "not an Argoverse-HD class".
# Same convention as the `coco_mapping` key of the Argoverse-HD annotation files.
DROPPED = 80


def _coco_to_argoverse() -> tuple[int, ...]:
    renamed = {"traffic light": "traffic_light", "stop sign": "stop_sign"}
    out = []
    for name in COCO_CLASSES:
        name = renamed.get(name, name)
        out.append(ARGOVERSE_HD_CLASSES.index(name) if name in ARGOVERSE_HD_CLASSES else DROPPED)
    return tuple(out)


COCO_TO_ARGOVERSE_HD: tuple[int, ...] = _coco_to_argoverse()

# BGR colours, one per Argoverse-HD class; other class lists cycle through a fixed palette.
_PALETTE_BGR: tuple[tuple[int, int, int], ...] = (
    (60, 20, 220), (142, 0, 0), (0, 200, 255), (230, 0, 230), (0, 140, 255),
    (255, 128, 0), (0, 255, 0), (0, 0, 255), (200, 200, 0), (128, 0, 128),
    (0, 128, 128), (128, 128, 0), (80, 80, 255), (255, 80, 80), (80, 255, 80),
)


def class_colour(index: int) -> tuple[int, int, int]:
    """A stable BGR colour for class `index` (OpenCV drawing order)."""
    return _PALETTE_BGR[int(index) % len(_PALETTE_BGR)]
