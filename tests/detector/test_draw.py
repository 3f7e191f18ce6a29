"""detector.draw: labelled boxes on a copy of the frame."""
from __future__ import annotations

import numpy as np

from data.detections import Detections
from detector.draw import draw_detections
from tests.support.infer_models import CLASSES


def test_draw_detections_marks_boxes_only() -> None:
    image = np.full((120, 160, 3), 40, np.uint8)
    dets = Detections(np.array([[20, 30, 100, 90]], np.float32), np.array([0.9]), np.array([1]))
    drawn = draw_detections(image, dets, CLASSES)
    assert drawn.shape == image.shape and (image == 40).all()  # input untouched
    changed = np.nonzero((drawn != image).any(axis=2))
    assert changed[0].min() >= 30 - 20 and changed[1].min() >= 19  # label sits just above the box
    assert (drawn[60, 20] != 40).any() and (drawn[60, 60] == 40).all()  # edge drawn, inside left alone
