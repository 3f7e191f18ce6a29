"""The one record every thing in the synthetic world is: where it is, how it moves, what it looks like."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Agent:
    """A thing on the street, in road coordinates.

    kind: the builder that draws it (car, bus, truck, motorcycle, bicycle, person, traffic_light,
    stop_sign, or a clutter kind). parts: (label, track) per annotated part, [] if unannotated.
    motion: static, parked, waiting, lane (follows a lane on our road), cross (drives along the
    crossing road), walk (along a sidewalk), xwalk (across our road on a crosswalk).
    heading: direction of travel relative to the road, radians towards +d.
    """

    kind: str
    s: float
    d: float
    params: dict
    parts: list[tuple[int, int]]
    heading: float = 0.0
    motion: str = "static"
    direction: int = 1
    speed: float = 0.0
    v0: float = 0.0
    lane: tuple | None = None
    phase: float = 0.0
    radius: float = 1.0
    billboard: bool = False
    braking: bool = False
    state: dict = field(default_factory=dict)

    @property
    def length(self) -> float:
        return float(self.params.get("length", 1.8 if self.kind in ("bicycle", "motorcycle") else 0.6))

    @property
    def progress(self) -> float:
        """Position along the direction of travel, so that 'ahead' is always larger."""
        return self.direction * (self.d if self.motion in ("cross", "xwalk") else self.s)
