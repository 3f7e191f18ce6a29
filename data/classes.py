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
