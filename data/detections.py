"""The Detections contract: what every detector returns and every consumer reads."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes of one frame in original-image pixels.

    boxes: (N, 4) float32 xyxy; scores: (N,) float32; labels: (N,) int64 indices into the
    dataset's class list. Validated on construction so that a bad producer fails at the source.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if not (len(boxes) == len(scores) == len(labels)):
            raise ValueError(
                f"Detections: boxes/scores/labels lengths differ "
                f"({len(boxes)}, {len(scores)}, {len(labels)})"
            )
        if not np.isfinite(boxes).all():
            raise ValueError("Detections: boxes contain NaN or inf")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> "Detections":
        """Subset by boolean mask or index array."""
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])

    def top(self, k: int) -> "Detections":
        """The k highest-scoring detections, in their original order (ties keep the earlier)."""
        if len(self) <= k:
            return self
        keep = np.sort(np.argsort(-self.scores, kind="stable")[:k])
        return self.select(keep)

    def to_dict(self) -> dict[str, list]:
        return {
            # float32 -> float is exact and JSON keeps the repr, so a log re-scores bit for bit.
            "boxes": self.boxes.tolist(),
            "scores": self.scores.tolist(),
            "labels": self.labels.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Detections":
        return cls(np.asarray(d["boxes"], np.float32), np.asarray(d["scores"]), np.asarray(d["labels"]))
