"""Drawing detections on frames: the one picture of a Detections, for commands and reports alike."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from data.classes import class_colour
from data.detections import Detections


def draw_detections(image: np.ndarray, detections: Detections, class_names: Sequence[str], *,
                    thickness: int | None = None) -> np.ndarray:
    """A copy of a BGR image with labelled boxes (class colour, "name score")."""
    out = image.copy()
    h, w = out.shape[:2]
    thickness = thickness or max(1, round(min(h, w) / 400))
    font_scale = max(0.4, min(h, w) / 1200)
    order = np.argsort(detections.scores, kind="stable")  # best boxes drawn last, on top
    for i in order:
        x1, y1, x2, y2 = (int(round(float(v))) for v in detections.boxes[i])
        label = int(detections.labels[i])
        colour = class_colour(label)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        name = class_names[label] if 0 <= label < len(class_names) else str(label)
        text = f"{name} {float(detections.scores[i]):.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y1 + th + base + 2  # inside the box at the top edge
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw + 2, ty + 1), colour, -1)
        luminance = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
        ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
        cv2.putText(out, text, (x1 + 1, ty - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink, 1, cv2.LINE_AA)
    return out
